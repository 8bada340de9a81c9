"""The GraphQL schema: types per domain, the root Query, and the extensions always on.

One rule splits every domain between storefront and staff:

- `schema/<domain>.py` holds what a storefront or a signed-in customer uses: the domain's types
  and the root fields, mutations and subscriptions anyone (or the owner of a cart, an order, an
  account) may call. A type both sides show (Product, Order, Customer) lives here, fields that
  show staff more than others included (`Product.status`, `OrderEvent.actor`).
- `schema/<domain>_admin.py` holds what needs a staff permission: its root fields, inputs and
  payloads. It imports the storefront module's types, never the other way round.
- A domain that is staff-only throughout is one file, `schema/<domain>.py`: `inventory`.
- `resolvers/` mirrors the same file names: `resolvers/<domain>_admin.py` holds the decisions only
  staff make, beside `resolvers/<domain>.py`, exactly where `schema/` has an `_admin` module.

`tests/test_domain_split.py` checks the rule against the schema. Shapes every domain shares (money,
the Node interface, connections and page info, user errors) are in `shared.py`; `node(id)` is in
`node.py`; `root.py` composes the root types from each domain's parts.
"""

from schema.root import schema

__all__ = ["schema"]
