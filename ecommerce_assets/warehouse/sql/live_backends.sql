-- Backends alive now (a stage whose owner is not among them belongs to a load that died).
SELECT pid FROM pg_stat_activity
