"""The local platform: embedded services (pgserver, rclone; moto for tests) and the run/dev/exec command."""
