"""A stored, weighted search document per product, and an index of names for suggestions (issue
18, points 3 and 5).

Until now the search matched and ranked `to_tsvector('english', name || ' ' || description)`, an
expression the GIN index of 0002 held but every ranked row recomputed: at 200,000 products a
common word ("wool", ~14,000 matches) spent most of its ~800 ms parsing descriptions again, to
put 24 of them on a page. The document is now a generated column, so PostgreSQL keeps it up to date
on every write of the name or description and a rank reads it instead of rebuilding it. The name
carries weight A and the description weight B, so `ts_rank` puts a product whose name has the word
above one that only mentions it.

`productSuggestions` reads names starting with what a shopper typed as a range of an index of the
active products' names in lower case, compared in code point order (`COLLATE "C"`, which a range
of a prefix needs), so it reads the few names it shows instead of every name containing the prefix;
the expression must stay `resolvers.catalogue_search._NAME_KEY`'s. Names with a later word starting
with it are read the same way from `product_name_word`, every word of every active product's name
in lower case beside the name: an index of words, kept by triggers on every write of a product
(COPY included), so no code path can forget it. Reading them through the trigram
index instead meant every name containing the word, in name order (~70 ms for "wool" at 200,000).

PostgreSQL only (SQLite searches with LIKE). Adding a stored generated column rewrites the product
table once (about 15 s at 200,000 products). The expression index of 0002 is replaced by an index on
the column; the column's name must stay `resolvers.catalogue_listing.SEARCH_DOCUMENT`'s.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

SEARCH_DOCUMENT = (
    "ALTER TABLE product ADD COLUMN IF NOT EXISTS search_document tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')"
    ") STORED;"
    "CREATE INDEX IF NOT EXISTS product_search_document_idx ON product USING GIN (search_document);"
    "DROP INDEX IF EXISTS product_search_idx;"
    'CREATE INDEX IF NOT EXISTS product_name_prefix_idx ON product ((lower(name) COLLATE "C"), id) '
    "WHERE status = 'ACTIVE';"
)
# The words of a name: what `resolvers.catalogue_listing.search_terms` calls words, in lower case.
# Statement-level triggers with transition tables, so a COPY of 200,000 products fills the words
# in one set-based INSERT (a row-level trigger, one INSERT per product, slowed the seed by minutes).
_WORDS_OF = (
    "SELECT DISTINCT word, n.name, n.id FROM {rows} n, regexp_split_to_table(lower(n.name), '[^[:alnum:]]+') AS word "
    "WHERE n.status = 'ACTIVE' AND word <> ''"
)
NAME_WORDS = (
    'CREATE TABLE IF NOT EXISTS product_name_word (word text COLLATE "C" NOT NULL, name text NOT NULL, '
    "product_id integer NOT NULL, PRIMARY KEY (word, name, product_id));"
    "CREATE INDEX IF NOT EXISTS product_name_word_product_idx ON product_name_word (product_id);"
    "CREATE OR REPLACE FUNCTION product_name_words_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"INSERT INTO product_name_word (word, name, product_id) {_WORDS_OF.format(rows='new_rows')}; "
    "RETURN NULL; END $$;"
    "CREATE OR REPLACE FUNCTION product_name_words_updated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    # Only the products whose name or status changed (a price change updates products too); one
    # statement, so its DELETE and INSERT see the same rows.
    "WITH changed AS (SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id "
    "WHERE n.name IS DISTINCT FROM o.name OR n.status IS DISTINCT FROM o.status), "
    "gone AS (DELETE FROM product_name_word WHERE product_id IN (SELECT id FROM changed)) "
    "INSERT INTO product_name_word (word, name, product_id) "
    f"{_WORDS_OF.format(rows='new_rows')} AND n.id IN (SELECT id FROM changed); "
    "RETURN NULL; END $$;"
    "CREATE OR REPLACE FUNCTION product_name_words_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM product_name_word WHERE product_id IN (SELECT id FROM old_rows); "
    "RETURN NULL; END $$;"
    "DROP TRIGGER IF EXISTS product_name_words_inserted ON product;"
    "CREATE TRIGGER product_name_words_inserted AFTER INSERT ON product REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_name_words_inserted();"
    "DROP TRIGGER IF EXISTS product_name_words_updated ON product;"
    "CREATE TRIGGER product_name_words_updated AFTER UPDATE ON product "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_name_words_updated();"
    "DROP TRIGGER IF EXISTS product_name_words_deleted ON product;"
    "CREATE TRIGGER product_name_words_deleted AFTER DELETE ON product REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION product_name_words_deleted();"
    f"INSERT INTO product_name_word (word, name, product_id) {_WORDS_OF.format(rows='product')} "
    "ON CONFLICT DO NOTHING;"
)


async def add_search_document(apps, schema_editor) -> None:
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(SEARCH_DOCUMENT)
        await schema_editor.client.execute_script(NAME_WORDS)


class Migration(migrations.Migration):
    dependencies = [("models", "0028_listing_indexes")]

    initial = False

    operations = [ops.RunPython(add_search_document)]
