import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from orders import events
from orders.models import Customer, DomainEvent, IdempotencyKey, Order, Product
from orders.seeding import SeedPlan, seed_demo, seed_reset


def utc_date(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Bulk-load realistic demo data (deterministic per --seed), then refresh every report once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=10_000)
        parser.add_argument("--customers", type=int, help="default: orders / 10, at least 50")
        parser.add_argument("--products", type=int, help="default: 500 (at least 20)")
        parser.add_argument("--seed", type=int, default=1, help="same seed and options, same data")
        parser.add_argument(
            "--end",
            type=utc_date,
            default=utc_date("2026-11-01"),
            help="orders spread over the two years before this UTC date",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="empty the order tables, the idempotency keys and the append-only event log first "
            "(demo databases only; says what it deletes on stderr)",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, orders, customers, products, seed, end, reset, no_progress, **options):
        if orders < 0:
            raise CommandError("--orders must be >= 0")
        plan = SeedPlan(
            orders=orders,
            customers=customers or max(50, orders // 10),
            products=products or 500,
            seed=seed,
            end=end,
        )
        if plan.customers < 1 or plan.products < 1:
            raise CommandError("--customers and --products must be >= 1")
        if reset:
            self.stderr.write(self.reset_warning())
            seed_reset()
        elif Order.objects.exists():
            raise CommandError("The database already has orders: pass --reset to replace them.")
        started = time.perf_counter()
        with tqdm(total=orders, unit="order", disable=no_progress, desc="seeding") as bar:
            seed_demo(plan, progress=bar.update)
        loaded = time.perf_counter() - started
        events.bulk_loaded()  # the read model catches up once, whatever its strategy
        total = time.perf_counter() - started
        self.stdout.write(
            f"Seeded {plan.orders} orders, {plan.customers} customers, {plan.products} products "
            f"in {loaded:.1f} s; read model updated, {total:.1f} s in all."
        )

    @staticmethod
    def reset_warning() -> str:
        counts = {
            "orders": Order.objects.count(),
            "customers": Customer.objects.count(),
            "products": Product.objects.count(),
            "idempotency keys": IdempotencyKey.objects.count(),
        }
        rows = ", ".join(f"{n} {name}" for name, n in counts.items())
        return (
            f"WARNING: --reset deletes every row of the write model ({rows}) and truncates the "
            f"append-only event log ({DomainEvent.objects.count()} events): the events feed starts "
            "over, and a consumer's after_position no longer means anything. Demo and benchmark "
            "databases only."
        )
