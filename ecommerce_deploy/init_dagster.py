"""The Dagster instance's set-up: every concurrency pool the definitions use exists, at the instance's default
limit, before the first run. (A pool is otherwise created by the first step that claims it: several runs
starting at once on a new instance race to create it, and all but one fail with a UniqueViolation on
`concurrency_limits`.)"""

from dagster import DagsterInstance, Definitions


def pools_of(defs: Definitions) -> set[str]:
    """The concurrency pools of every asset, check and op of the definitions."""
    graph = defs.resolve_asset_graph()
    pools = {pool for key in graph.get_all_asset_keys() for pool in graph.get(key).pools or set()}
    for job in defs.resolve_all_job_defs():
        pools.update(pool for node in job.graph.node_defs for pool in node.pools)
    return pools


def init_dagster(instance: DagsterInstance, pools: set[str]) -> list[str]:
    """Create the pools that do not exist yet (at the instance's default limit); returns those created."""
    storage = instance.event_log_storage
    existing = {limit.name for limit in storage.get_pool_limits()}
    created = []
    for pool in sorted(pools - existing):
        storage.initialize_concurrency_limit_to_default(pool)
        created.append(pool)
    return created
