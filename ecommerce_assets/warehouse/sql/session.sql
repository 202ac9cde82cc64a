-- Every pipeline session: no JIT. Its statements each touch a day or two, and joins across day partitions
-- are estimated loosely enough to cross jit_above_cost: compiling then cost more than running (0.66 s of
-- the 1.2 s that one day's changes took at 100,000 products).
SET jit = off
