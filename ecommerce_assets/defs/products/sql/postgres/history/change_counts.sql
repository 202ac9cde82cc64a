-- How many changes of each type a day has.
SELECT change_type, count(*) FROM dm.fct_product_changes WHERE change_date = %(day)s GROUP BY change_type
