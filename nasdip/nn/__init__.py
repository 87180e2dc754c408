"""Network building blocks in pure torch: layers, upsampling cells, the DIP skip and NAS-DIP backbones,
super-networks, packed networks and networks that run on any image size."""
