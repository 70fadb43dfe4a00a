"""Data in: the system state (load, validate, freeze) and the files it is read from and written to."""
