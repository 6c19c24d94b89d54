"""Paper figures, one module per stage plus shared style."""
