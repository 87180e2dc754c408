"""Network building blocks: layers, upsampling cells, the DIP skip and NAS-DIP backbones, the builder."""
