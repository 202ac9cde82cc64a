-- Rewinding, 2/3: intervals that were open on that day are open again (later snapshots will end them).
UPDATE dm.dim_product_history SET valid_to = NULL, is_current = true WHERE valid_to > %(day)s
