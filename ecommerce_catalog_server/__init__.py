"""A DummyJSON-compatible catalog server for tests, demos and benchmarks."""

from ecommerce_catalog_server.catalog import Catalog, GeneratedCatalog, JsonTextCatalog, ListCatalog
from ecommerce_catalog_server.faults import Fault, FaultPlan
from ecommerce_catalog_server.server import CatalogServer

__all__ = ["Catalog", "CatalogServer", "Fault", "FaultPlan", "GeneratedCatalog", "JsonTextCatalog", "ListCatalog"]
