"""Invariants that span rows, held by PostgreSQL itself: the event log is append-only, and an
order always has at least one line (checked at commit, so an order and its lines can be
inserted in either order within one transaction)."""
from django.db import migrations

APPEND_ONLY = """
CREATE FUNCTION orders_domainevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the domain event log is append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER domainevent_append_only BEFORE UPDATE OR DELETE ON orders_domainevent
    FOR EACH ROW EXECUTE FUNCTION orders_domainevent_append_only();
"""

ORDER_HAS_LINES = """
CREATE FUNCTION orders_order_has_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    checked_order bigint;
BEGIN
    IF TG_TABLE_NAME = 'orders_order' THEN
        checked_order := NEW.id;
    ELSE
        checked_order := OLD.order_id;
    END IF;
    IF EXISTS (SELECT 1 FROM orders_order WHERE id = checked_order)
       AND NOT EXISTS (SELECT 1 FROM orders_orderline WHERE order_id = checked_order) THEN
        RAISE EXCEPTION 'order % must have at least one line', checked_order
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER order_has_lines AFTER INSERT ON orders_order
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION orders_order_has_lines();
CREATE CONSTRAINT TRIGGER order_keeps_lines AFTER DELETE OR UPDATE OF order_id ON orders_orderline
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION orders_order_has_lines();
"""

REVERSE = """
DROP TRIGGER IF EXISTS order_keeps_lines ON orders_orderline;
DROP TRIGGER IF EXISTS order_has_lines ON orders_order;
DROP FUNCTION IF EXISTS orders_order_has_lines();
DROP TRIGGER IF EXISTS domainevent_append_only ON orders_domainevent;
DROP FUNCTION IF EXISTS orders_domainevent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunSQL(APPEND_ONLY + ORDER_HAS_LINES, REVERSE)]
