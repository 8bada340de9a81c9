"""Related products: what a product page shows beside its product.

First the products staff chose for it (`productRelatedSet`), in their order, then, to make up
`first`, other active products of its category in the listing's default order (name, then id).
Only active products are ever shown, whoever asks: this is storefront content.

Reading goes through per-request loaders, so a listing of N products each asking for `related`
costs the same statements as one: the chosen links (one), the category fill (one per distinct
`first`), the products' rows (one), then whatever the related products' own fields select.
"""

from __future__ import annotations

from loaders import Loaders
from models import Product, ProductRelated, ProductStatus
from models.rows import ProductRow
from resolvers import catalogue_changes as changes
from resolvers import catalogue_events, outbox
from resolvers.errors import DomainError, ErrorCode

MAX_FIRST = 20  # how many related products one product shows at most
MAX_CHOSEN = 50  # how many staff may choose for one product


async def related(loaders: Loaders, product: ProductRow, first: int) -> list[ProductRow]:
    """Up to `first` active products to show beside `product`: staff's choice, then its category's."""
    if first <= 0:
        return []
    chosen = await loaders.related_ids_by_product_id.load(product.id)
    peers: list[int] = []
    if product.category_id is not None:
        # Enough to fill up after leaving out the product itself and those already chosen.
        peers = await loaders.active_ids_by_category.load((product.category_id, first + len(chosen) + 1))
    candidates = list(dict.fromkeys([*chosen, *peers]))
    rows = await loaders.product_by_id.load_many([i for i in candidates if i != product.id])
    shown = [row for row in rows if row is not None and row.status == ProductStatus.ACTIVE]
    return shown[:first]


async def set_related(product_id: int, related_ids: list[int]) -> Product:
    """Replace the products staff chose to show beside `product_id`, in the order given."""
    if len(related_ids) > MAX_CHOSEN:
        raise DomainError(ErrorCode.INVALID, f"At most {MAX_CHOSEN} related products.", ["relatedIds"])
    if product_id in related_ids:
        raise DomainError(ErrorCode.INVALID, "A product cannot be related to itself.", ["relatedIds"])
    if len(set(related_ids)) != len(related_ids):
        raise DomainError(ErrorCode.INVALID, "Each related product may be given once.", ["relatedIds"])
    product = await Product.get_or_none(id=product_id)
    if product is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No product has this ID.", ["productId"])
    known = {p.id for p in await Product.filter(id__in=related_ids).only("id")} if related_ids else set()
    unknown = [i for i in related_ids if i not in known]
    if unknown:
        raise DomainError(ErrorCode.NOT_FOUND, "Some related products do not exist.", ["relatedIds"])
    async with outbox.transaction():
        await ProductRelated.filter(product_id=product_id).delete()
        if related_ids:
            await ProductRelated.bulk_create(
                [
                    ProductRelated(product_id=product_id, related_id=related_id, position=position)
                    for position, related_id in enumerate(related_ids)
                ]
            )
        # What a cached answer showing this product's related ones holds is tagged with it.
        changes.record([changes.product(product_id)])
        catalogue_events.updated(product_id)
    return product
