"""Order of keys read a batch at a time."""

import pyarrow as pa
import pyarrow.compute as pc


def ascends_after(values: pa.Array, last: int | None) -> bool:
    """Whether `values` strictly ascend, have no null and all lie above `last` (the batch before ended on it;
    None: none came before). An empty batch ascends."""
    if not len(values):
        return True
    if values.null_count or (last is not None and values[0].as_py() <= last):
        return False
    return len(values) < 2 or bool(pc.all(pc.less(values.slice(0, len(values) - 1), values.slice(1))).as_py())
