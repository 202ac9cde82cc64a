ALTER TABLE {stage} ALTER COLUMN {column} TYPE text
