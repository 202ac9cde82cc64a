"""Order of keys read a batch at a time."""

import pyarrow as pa
import pyarrow.compute as pc


class StrictlyAscending:
    """Whether the keys seen so far, batch after batch, strictly ascend with no null."""

    def __init__(self) -> None:
        self.last: int | None = None  # the key the batches so far ended on

    def extend(self, values: pa.Array) -> bool:
        """Take the next batch's keys: whether they strictly ascend, have no null and all lie above the keys
        before them (an empty batch does). After a False the order is broken for good: ask no further."""
        if not len(values):
            return True
        if values.null_count or (self.last is not None and values[0].as_py() <= self.last):
            return False
        if len(values) > 1 and not pc.all(pc.less(values.slice(0, len(values) - 1), values.slice(1))).as_py():
            return False
        self.last = values[-1].as_py()
        return True
