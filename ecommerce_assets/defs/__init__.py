"""The domains of the platform, one folder each: its assets, checks, jobs, schedules, sensors and SQL, and a
`definitions()` that registers them. What every domain shares (partitions, automation, the snapshot
factory, the lake, the warehouse) lives beside this folder."""
