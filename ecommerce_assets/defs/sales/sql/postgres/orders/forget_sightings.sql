DELETE FROM meta.cart_sightings WHERE snapshot_date = %(day)s
