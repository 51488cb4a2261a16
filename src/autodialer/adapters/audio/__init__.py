"""Audio files for Asterisk: content sniffing with ffprobe, conversion with ffmpeg, the on-disk prompt store."""
