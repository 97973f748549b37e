"""One trial from parameters to outputs, the run folder's state, and encoding new samples."""
