"""`python -m ecommerce_catalog_server`: serve a generated shop (products; carts and users on request) or the real
service's saved answers on a local port."""

import argparse
import contextlib
from datetime import date
from pathlib import Path

from ecommerce_catalog_server.catalog import Catalog, GeneratedCatalog
from ecommerce_catalog_server.daily import DailyCatalog
from ecommerce_catalog_server.faults import Fault, FaultPlan
from ecommerce_catalog_server.server import CatalogServer
from ecommerce_catalog_server.shop import DailyCarts, DailyUsers, RealService


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ecommerce_catalog_server", description="DummyJSON-compatible catalog server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--products", type=int, default=194, help="catalog size")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--awkward", action="store_true", help="mix in numeric strings, nulls, bad records, duplicates")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="answer every n-th request with 429")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429")
    parser.add_argument("--error-every", type=int, default=0, help="answer every n-th request with 500")
    parser.add_argument("--delay-ms", type=int, default=0, help="delay every answer")
    parser.add_argument("--pregenerate-page-size", type=int, default=0,
                        help="serialize every page of this size before serving (benchmarks)")
    parser.add_argument("--day", type=date.fromisoformat,
                        help="serve the day-by-day simulator's shop of this day (YYYY-MM-DD) instead of a fixed catalog")
    parser.add_argument("--carts", type=int, default=0, help="with --day: carts in the day's snapshot (/carts)")
    parser.add_argument("--users", type=int, default=0, help="with --day: users on 2025-01-01 (/users; more join daily)")
    parser.add_argument("--real", type=Path, metavar="DIR",
                        help="serve dummyjson.com's saved answers (products.json, carts.json, users.json in DIR)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    every: dict[int, Fault] = {}
    if args.rate_limit_every:
        every[args.rate_limit_every] = Fault("status", status=429, retry_after=args.retry_after)
    if args.error_every:
        every[args.error_every] = Fault("status", status=500)
    collections: dict[str, Catalog] = {}
    catalog: Catalog = GeneratedCatalog(size=args.products, seed=args.seed, awkward=args.awkward)
    if args.real:
        collections = dict(RealService(args.real).collections())
        catalog = collections.pop("products")
    elif args.day:
        catalog = DailyCatalog(size=args.products, day=args.day, seed=args.seed)
        if args.carts:
            collections["carts"] = DailyCarts(args.carts, args.products, args.users or args.carts, args.day, args.seed,
                                              args.awkward)
        if args.users:
            collections["users"] = DailyUsers(args.users, args.day, args.seed, args.awkward)
    server = CatalogServer(catalog, host=args.host, port=args.port, verbose=args.verbose, collections=collections,
                           faults=FaultPlan(every=every, delay_seconds=args.delay_ms / 1000))
    if args.pregenerate_page_size:
        server.pregenerate(args.pregenerate_page_size)
    served = ", ".join(f"/{name} ({c.total()})" for name, c in {"products": catalog, **collections}.items())
    print(f"catalog server on {server.url}: {served}, seed {args.seed}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
