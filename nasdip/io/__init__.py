"""Files and images: reading and writing images (16-bit PNG included), crops, the built-in photo, atomic writes,
captioned panels."""
