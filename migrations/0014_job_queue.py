"""Procrastinate's tables and functions (issue 15), on PostgreSQL: the job queue lives beside the
orders its jobs belong to, and the release step (`python -m gateway migrate`) creates it.

The schema is the one the installed Procrastinate ships (`procrastinate.schema.SchemaManager`),
applied once: a database that already has its tables keeps them. Upgrading Procrastinate past a
release that changes its schema means a new migration here applying the files of its
`sql/migrations/` folder for the versions crossed. SQLite has no job tables: jobs run inside the
serving process there (gateway/jobs.py).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

EXISTS = "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"


async def create_job_queue(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect != "postgres":
        return
    from procrastinate.schema import SchemaManager

    _, rows = await schema_editor.client.execute_query(EXISTS)
    if not rows[0]["present"]:
        await schema_editor.client.execute_script(SchemaManager.get_schema())


class Migration(migrations.Migration):
    dependencies = [("models", "0013_outbox")]

    operations = [ops.RunPython(create_job_queue)]
