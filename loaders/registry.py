"""The per-request registry: each loader is made on first use, so a request pays only for what it reads."""

from __future__ import annotations

from functools import cached_property

from loaders.accounts import AccountByIdLoader, AddressesByAccountIdLoader
from loaders.attributes import (
    AttributeBySlugLoader,
    ChoicesByAttributeIdLoader,
    ShownValuesByProductIdLoader,
    ShownValuesByVariantIdLoader,
)
from loaders.cart import CartByIdLoader, CartLinesByCartIdLoader
from loaders.catalogue import (
    ActiveIdsByCategoryLoader,
    CategoriesByParentIdLoader,
    CategoryByIdLoader,
    CategoryBySlugLoader,
    ImageByIdLoader,
    ImagesByProductIdLoader,
    LowStockThresholdByVariantIdLoader,
    OptionsByVariantIdLoader,
    ProductByIdLoader,
    ProductBySlugLoader,
    RelatedIdsByProductIdLoader,
    VariantByIdLoader,
    VariantsByProductIdLoader,
)
from loaders.checkout import ShippingMethodByIdLoader
from loaders.inventory import WarehouseByIdLoader
from loaders.media import ThumbnailsByImageIdLoader
from loaders.orders import (
    OrderByIdLoader,
    OrderEventsByOrderIdLoader,
    OrderLinesByOrderIdLoader,
    OrderTotalsByCustomerIdLoader,
)
from loaders.payments import EventsByPaymentIdLoader, PaymentByIdLoader, PaymentsByOrderIdLoader
from loaders.refunds import RefundByIdLoader, RefundLinesByRefundIdLoader, RefundsByOrderIdLoader
from loaders.returns import ReturnLinesByReturnIdLoader, ReturnsByOrderIdLoader
from loaders.shipments import ShipmentByIdLoader, ShipmentEventsByShipmentIdLoader, ShipmentsByOrderIdLoader


class Loaders:
    @cached_property
    def product_by_id(self) -> ProductByIdLoader:
        return ProductByIdLoader()

    @cached_property
    def product_by_slug(self) -> ProductBySlugLoader:
        return ProductBySlugLoader()

    @cached_property
    def related_ids_by_product_id(self) -> RelatedIdsByProductIdLoader:
        return RelatedIdsByProductIdLoader()

    @cached_property
    def active_ids_by_category(self) -> ActiveIdsByCategoryLoader:
        return ActiveIdsByCategoryLoader()

    @cached_property
    def variant_by_id(self) -> VariantByIdLoader:
        return VariantByIdLoader()

    @cached_property
    def variants_by_product_id(self) -> VariantsByProductIdLoader:
        return VariantsByProductIdLoader()

    @cached_property
    def options_by_variant_id(self) -> OptionsByVariantIdLoader:
        return OptionsByVariantIdLoader()

    @cached_property
    def low_stock_threshold_by_variant_id(self) -> LowStockThresholdByVariantIdLoader:
        return LowStockThresholdByVariantIdLoader()

    @cached_property
    def image_by_id(self) -> ImageByIdLoader:
        return ImageByIdLoader()

    @cached_property
    def images_by_product_id(self) -> ImagesByProductIdLoader:
        return ImagesByProductIdLoader()

    @cached_property
    def thumbnails_by_image_id(self) -> ThumbnailsByImageIdLoader:
        return ThumbnailsByImageIdLoader()

    @cached_property
    def category_by_id(self) -> CategoryByIdLoader:
        return CategoryByIdLoader()

    @cached_property
    def category_by_slug(self) -> CategoryBySlugLoader:
        return CategoryBySlugLoader()

    @cached_property
    def categories_by_parent_id(self) -> CategoriesByParentIdLoader:
        return CategoriesByParentIdLoader()

    @cached_property
    def attribute_by_slug(self) -> AttributeBySlugLoader:
        return AttributeBySlugLoader()

    @cached_property
    def choices_by_attribute_id(self) -> ChoicesByAttributeIdLoader:
        return ChoicesByAttributeIdLoader()

    @cached_property
    def shown_values_by_product_id(self) -> ShownValuesByProductIdLoader:
        return ShownValuesByProductIdLoader()

    @cached_property
    def shown_values_by_variant_id(self) -> ShownValuesByVariantIdLoader:
        return ShownValuesByVariantIdLoader()

    @cached_property
    def account_by_id(self) -> AccountByIdLoader:
        return AccountByIdLoader()

    @cached_property
    def addresses_by_account_id(self) -> AddressesByAccountIdLoader:
        return AddressesByAccountIdLoader()

    @cached_property
    def warehouse_by_id(self) -> WarehouseByIdLoader:
        return WarehouseByIdLoader()

    @cached_property
    def cart_by_id(self) -> CartByIdLoader:
        return CartByIdLoader()

    @cached_property
    def cart_lines_by_cart_id(self) -> CartLinesByCartIdLoader:
        return CartLinesByCartIdLoader()

    @cached_property
    def shipping_method_by_id(self) -> ShippingMethodByIdLoader:
        return ShippingMethodByIdLoader()

    @cached_property
    def order_by_id(self) -> OrderByIdLoader:
        return OrderByIdLoader()

    @cached_property
    def order_lines_by_order_id(self) -> OrderLinesByOrderIdLoader:
        return OrderLinesByOrderIdLoader()

    @cached_property
    def order_totals_by_customer_id(self) -> OrderTotalsByCustomerIdLoader:
        return OrderTotalsByCustomerIdLoader()

    @cached_property
    def order_events_by_order_id(self) -> OrderEventsByOrderIdLoader:
        return OrderEventsByOrderIdLoader()

    @cached_property
    def shipment_by_id(self) -> ShipmentByIdLoader:
        return ShipmentByIdLoader()

    @cached_property
    def shipments_by_order_id(self) -> ShipmentsByOrderIdLoader:
        return ShipmentsByOrderIdLoader()

    @cached_property
    def shipment_events_by_shipment_id(self) -> ShipmentEventsByShipmentIdLoader:
        return ShipmentEventsByShipmentIdLoader()

    @cached_property
    def payment_by_id(self) -> PaymentByIdLoader:
        return PaymentByIdLoader()

    @cached_property
    def payments_by_order_id(self) -> PaymentsByOrderIdLoader:
        return PaymentsByOrderIdLoader()

    @cached_property
    def events_by_payment_id(self) -> EventsByPaymentIdLoader:
        return EventsByPaymentIdLoader()

    @cached_property
    def refund_by_id(self) -> RefundByIdLoader:
        return RefundByIdLoader()

    @cached_property
    def refunds_by_order_id(self) -> RefundsByOrderIdLoader:
        return RefundsByOrderIdLoader()

    @cached_property
    def refund_lines_by_refund_id(self) -> RefundLinesByRefundIdLoader:
        return RefundLinesByRefundIdLoader()

    @cached_property
    def returns_by_order_id(self) -> ReturnsByOrderIdLoader:
        return ReturnsByOrderIdLoader()

    @cached_property
    def return_lines_by_return_id(self) -> ReturnLinesByReturnIdLoader:
        return ReturnLinesByReturnIdLoader()
