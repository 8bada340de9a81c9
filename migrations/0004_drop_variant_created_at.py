from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0003_accounts_and_stock_ledger")]

    initial = False

    operations = [
        ops.RemoveField(model_name="ProductVariant", name="created_at"),
    ]
