-- A day of a table no longer holds anything: its load record goes (what follows the table sees it gone).
DELETE FROM meta.partition_loads WHERE table_name = %(table_name)s AND partition_date = %(partition)s
