"""ffkpi's payload types against the resource classes of the installed stripe-python,
which is generated from the pinned API version: every field ffkpi decodes exists there,
and every field Stripe may send as null is one ffkpi reads as None, not a refusal."""

import inspect
import types
import typing
from typing import Any

import msgspec
import pytest

import stripe
from ffkpi.stripe import payloads as p

SDK: dict[type[msgspec.Struct], list[Any]] = {
    p.StripeTier: [stripe.Price.Tier],
    p.StripeCurrencyOption: [stripe.Price.CurrencyOptions],
    p.StripeRecurring: [stripe.Price.Recurring],
    p.StripeTransformQuantity: [stripe.Price.TransformQuantity],
    p.StripeProduct: [stripe.Product],
    p.StripePrice: [stripe.Price],
    p.StripeAppliesTo: [stripe.Coupon.AppliesTo],
    p.StripeAmountOption: [stripe.Coupon.CurrencyOptions],
    p.StripeCoupon: [stripe.Coupon],
    p.StripeDiscountSource: [stripe.Discount.Source],
    p.StripeDiscount: [stripe.Discount],
    p.StripeTrial: [stripe.SubscriptionItem.CurrentTrial],
    p.StripeItem: [stripe.SubscriptionItem],
    p.StripeCustomer: [stripe.Customer],
    p.StripeSubscription: [stripe.Subscription],
    p.StripePeriod: [stripe.InvoiceLineItem.Period, stripe.InvoiceItem.Period],
    p.StripeItemDetails: [stripe.InvoiceLineItem.Parent.SubscriptionItemDetails],
    p.StripeLineParent: [stripe.InvoiceLineItem.Parent],
    p.StripePriceDetails: [
        stripe.InvoiceLineItem.Pricing.PriceDetails,
        stripe.InvoiceItem.Pricing.PriceDetails,
    ],
    p.StripePricing: [stripe.InvoiceLineItem.Pricing, stripe.InvoiceItem.Pricing],
    p.StripeLine: [stripe.InvoiceLineItem],
    p.StripeTransitions: [stripe.Invoice.StatusTransitions],
    p.StripeSubscriptionDetails: [
        stripe.Invoice.Parent.SubscriptionDetails,
        stripe.InvoiceItem.Parent.SubscriptionDetails,
    ],
    p.StripeInvoiceParent: [stripe.Invoice.Parent, stripe.InvoiceItem.Parent],
    p.StripeInvoice: [stripe.Invoice],
    p.StripeInvoiceItem: [stripe.InvoiceItem],
}
# Fields of one SDK class that the other class sharing the payload type lacks.
ONLY_IN = {("StripeSubscriptionDetails", "subscription_item"): "InvoiceItem"}


def sdk_annotation(cls: Any, name: str) -> Any:
    for klass in cls.__mro__:
        annotations = inspect.get_annotations(klass)
        if name in annotations:
            return annotations[name]
    return None


def nullable(annotation: Any) -> bool:
    if annotation is None or annotation is type(None):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(nullable(arg) for arg in typing.get_args(annotation))
    return False


def test_every_payload_type_is_checked() -> None:
    declared = {
        cls
        for cls in vars(p).values()
        if isinstance(cls, type)
        and issubclass(cls, p.Payload)
        and cls.__name__.startswith("Stripe")
    }
    assert declared == set(SDK)


@pytest.mark.parametrize("ours", list(SDK), ids=lambda cls: cls.__name__)
def test_fields_exist_and_null_is_read_where_stripe_may_send_it(
    ours: type[msgspec.Struct],
) -> None:
    for sdk in SDK[ours]:
        for field in msgspec.structs.fields(ours):
            only = ONLY_IN.get((ours.__name__, field.name))
            if only is not None and only not in sdk.__qualname__:
                continue
            annotation = sdk_annotation(sdk, field.name)
            assert annotation is not None, f"{sdk.__qualname__} has no field {field.name}"
            if nullable(annotation):
                assert nullable(field.type), (
                    f"{ours.__name__}.{field.name}: stripe-python types "
                    f"{sdk.__qualname__}.{field.name} as {annotation}, ffkpi refuses null"
                )
