"""handoccnet-lite."""
