-- An unlogged table with the target's types for the loaded columns only, no constraints (they are
-- checked on merge); json columns become text (cast back on merge).
CREATE UNLOGGED TABLE {stage} AS SELECT {columns} FROM {target} WITH NO DATA
