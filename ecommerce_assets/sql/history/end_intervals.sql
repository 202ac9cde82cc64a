-- Taking in the snapshot of day %(day)s (later than every snapshot the history holds), first: a product's
-- current interval ends on this day when the product is absent or any tracked attribute differs (NULLs
-- compare equal).
UPDATE dm.dim_product_history AS h SET valid_to = %(day)s, is_current = false
WHERE h.valid_to IS NULL AND NOT EXISTS (
    SELECT 1 FROM ods.fct_products AS o
    WHERE o.snapshot_date = %(day)s AND o.product_id = h.product_id
      AND (o.title, o.category, o.brand, o.price, o.discount_percentage, o.stock, o.availability_status, o.rating)
          IS NOT DISTINCT FROM
          (h.title, h.category, h.brand, h.price, h.discount_percentage, h.stock, h.availability_status, h.rating)
)
