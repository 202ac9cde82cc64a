-- After a history update, 2/2: the ended intervals are only appended to; vacuuming visits just the new
-- pages (visibility map, freezing). No ANALYZE: it would sample the whole, growing table, and no query of
-- the daily update needs its statistics.
VACUUM dm.product_intervals_ended
