"""What ffkpi keeps on disk, I/O: files (atomic writes, bounded reads, the folder lock),
snapshots (a week's report and its customers) and config_file (the config file and the
key file, found and read)."""
