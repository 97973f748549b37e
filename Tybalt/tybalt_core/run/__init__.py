"""One trial from parameters to outputs, the run folder's state, encoding new samples, scoring several runs."""
