"""Stripe objects in the full shapes of API version 2026-10-28.endive, for the demo data,
the benchmarks and the tests. Every field the API returns is present, so that parsing
costs what it costs on real payloads.
"""

import copy
from typing import Any

Json = dict[str, Any]

LIVEMODE = False


def product(product_id: str, name: str, created: int = 1_700_000_000) -> Json:
    return {
        "id": product_id,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": LIVEMODE,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": created,
        "url": None,
    }


def tier(up_to: int | None, unit_amount: int, flat_amount: int = 0) -> Json:
    return {
        "flat_amount": flat_amount,
        "flat_amount_decimal": str(flat_amount),
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
        "up_to": up_to,
    }


def price(
    price_id: str,
    product_id: str,
    unit_amount: int | None,
    *,
    currency: str = "usd",
    interval: str = "month",
    interval_count: int = 1,
    usage_type: str = "licensed",
    tiers_mode: str | None = None,
    tiers: list[Json] | None = None,
    currency_options: dict[str, int] | None = None,
    transform_quantity: Json | None = None,
    created: int = 1_700_000_000,
    nickname: str | None = None,
    unit_amount_decimal: str | None = None,
) -> Json:
    """A price as a subscription item embeds it: `tiers` only when given (expanded);
    `unit_amount_decimal` for a fractional amount (then `unit_amount` is None)."""
    body: Json = {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "tiered" if tiers_mode else "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": None,
        "livemode": LIVEMODE,
        "lookup_key": None,
        "metadata": {},
        "nickname": nickname,
        "product": product_id,
        "recurring": {
            "interval": interval,
            "interval_count": interval_count,
            "meter": "mtr_demo_remote_instances" if usage_type == "metered" else None,
            "trial_period_days": None,
            "usage_type": usage_type,
        },
        "tax_behavior": "exclusive",
        "tiers_mode": tiers_mode,
        "transform_quantity": transform_quantity,
        "type": "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": (unit_amount_decimal if unit_amount is None else str(unit_amount)),
    }
    if currency_options:
        body["currency_options"] = {
            cur: {
                "custom_unit_amount": None,
                "tax_behavior": "exclusive",
                "unit_amount": amount,
                "unit_amount_decimal": str(amount),
            }
            for cur, amount in currency_options.items()
        }
        body["currency_options"][currency] = {
            "custom_unit_amount": None,
            "tax_behavior": "exclusive",
            "unit_amount": unit_amount,
            "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        }
    if tiers is not None:
        body["tiers"] = tiers
    return body


def coupon(
    coupon_id: str,
    *,
    percent_off: float | None = None,
    amount_off: int | None = None,
    currency: str | None = None,
    duration: str = "forever",
    duration_in_months: int | None = None,
    currency_options: dict[str, int] | None = None,
    applies_to: list[str] | None = None,
    name: str | None = None,
    created: int = 1_700_000_000,
) -> Json:
    """A coupon; `applies_to` appears only when given, as it does only when expanded."""
    body: Json = {
        "id": coupon_id,
        "object": "coupon",
        "amount_off": amount_off,
        "created": created,
        "currency": currency,
        "duration": duration,
        "duration_in_months": duration_in_months,
        "livemode": LIVEMODE,
        "max_redemptions": None,
        "metadata": {},
        "name": name or coupon_id,
        "percent_off": percent_off,
        "redeem_by": None,
        "times_redeemed": 1,
        "valid": True,
    }
    if currency_options:
        body["currency_options"] = {
            cur: {"amount_off": amount} for cur, amount in currency_options.items()
        }
    if applies_to is not None:
        body["applies_to"] = {"products": applies_to}
    return body


def discount(
    discount_id: str,
    coupon_or_id: Json | str,
    *,
    customer: str,
    subscription: str,
    subscription_item: str | None = None,
    start: int,
    end: int | None = None,
) -> Json:
    return {
        "id": discount_id,
        "object": "discount",
        "checkout_session": None,
        "customer": customer,
        "end": end,
        "invoice": None,
        "invoice_item": None,
        "promotion_code": None,
        "source": {"coupon": coupon_or_id, "type": "coupon"},
        "start": start,
        "subscription": subscription,
        "subscription_item": subscription_item,
    }


def subscription_item(
    item_id: str,
    subscription_id: str,
    price_body: Json,
    *,
    quantity: int | None,
    period_start: int,
    period_end: int,
    discounts: list[Json | str] | None = None,
    trial: tuple[int, int] | None = None,
    created: int,
) -> Json:
    return {
        "id": item_id,
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": period_end,
        "current_period_start": period_start,
        "current_trial": (
            None if trial is None else {"start_date": trial[0], "end_date": trial[1]}
        ),
        "discounts": discounts or [],
        "metadata": {},
        "plan": None,
        "price": price_body,
        "quantity": quantity,
        "subscription": subscription_id,
        "tax_rates": [],
    }


def subscription(
    subscription_id: str,
    customer: str,
    items: list[Json],
    *,
    status: str = "active",
    currency: str = "usd",
    created: int,
    discounts: list[Json | str] | None = None,
    cancel_at_period_end: bool = False,
    cancel_at: int | None = None,
    pause_collection: Json | None = None,
    trial_end: int | None = None,
    items_has_more: bool = False,
) -> Json:
    start = items[0]["current_period_start"] if items else created
    return {
        "id": subscription_id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": start,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"flexible": None, "type": "classic", "updated_at": None},
        "billing_thresholds": None,
        "cancel_at": cancel_at,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": f"pm_{subscription_id[4:]}",
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": discounts or [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": items,
            "has_more": items_has_more,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "latest_invoice": f"in_{subscription_id[4:]}",
        "livemode": LIVEMODE,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": pause_collection,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": None if trial_end is None else created,
    }


def subscription_of(
    subscription_id: str,
    customer: str,
    *prices: tuple[Json, int | None],
    created: int = 1_790_000_000,
    period_start: int | None = None,
    item_discounts: dict[int, list[Json | str]] | None = None,
    **options: Any,
) -> Json:
    """A subscription of (price, quantity) items in their first 30-day period: what most
    tests need. `item_discounts` by item position; other options as subscription()."""
    start = created if period_start is None else period_start
    key = subscription_id.removeprefix("sub_")
    items = [
        subscription_item(
            f"si_{key}_{position}",
            subscription_id,
            copy.deepcopy(body),
            quantity=quantity,
            period_start=start,
            period_end=start + 30 * 86_400,
            created=start,
            discounts=(item_discounts or {}).get(position),
        )
        for position, (body, quantity) in enumerate(prices)
    ]
    return subscription(subscription_id, customer, items, created=created, **options)


def list_page(objects: list[Json], has_more: bool = False, url: str = "/v1/subscriptions") -> Json:
    return {"object": "list", "data": objects, "has_more": has_more, "url": url}


def invoice_line(
    line_id: str,
    invoice_id: str,
    *,
    amount: int,
    currency: str,
    subscription_id: str,
    subscription_item_id: str,
    price_id: str,
    product_id: str,
    quantity: int,
    period: tuple[int, int],
    proration: bool = False,
    discounts: list[Json | str] | None = None,
) -> Json:
    return {
        "id": line_id,
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": None,
        "discount_amounts": [],
        "discountable": not proration,
        "discounts": discounts or [],
        "invoice": invoice_id,
        "livemode": LIVEMODE,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": subscription_id,
                "subscription_item": subscription_item_id,
            },
            "type": "subscription_item_details",
        },
        "period": {"end": period[1], "start": period[0]},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price_id, "product": product_id},
            "type": "price_details",
            "unit_amount_decimal": str(amount // quantity) if quantity else "0",
        },
        "quantity": quantity,
        "taxes": [],
    }


def invoice(
    invoice_id: str,
    *,
    customer: str,
    subscription_id: str,
    status: str,
    currency: str,
    lines: list[Json],
    created: int,
    billing_reason: str = "subscription_cycle",
    discounts: list[Json | str] | None = None,
    paid_at: int | None = None,
    marked_uncollectible_at: int | None = None,
    voided_at: int | None = None,
) -> Json:
    """An invoice with all its lines embedded (a list page embeds only the first ten:
    the fake Stripe cuts them)."""
    total = sum(line["amount"] for line in lines)
    finalized = None if status == "draft" else created + 3600
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": total,
        "amount_paid": total if status == "paid" else 0,
        "amount_remaining": 0 if status == "paid" else total,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer,
        "discounts": discounts or [],
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "total_count": len(lines),
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": LIVEMODE,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": subscription_id},
            "type": "subscription_details",
        },
        "period_end": created,
        "period_start": created,
        "status": status,
        "status_transitions": {
            "finalized_at": finalized,
            "marked_uncollectible_at": marked_uncollectible_at,
            "paid_at": paid_at if paid_at is not None or status != "paid" else finalized,
            "voided_at": voided_at,
        },
        "subtotal": total,
        "total": total,
    }


def invoice_item(
    item_id: str,
    *,
    amount: int,
    currency: str,
    customer: str,
    subscription_id: str,
    subscription_item_id: str,
    price_id: str,
    product_id: str,
    quantity: int,
    period: tuple[int, int],
    proration: bool = True,
    invoice_id: str | None = None,
) -> Json:
    """An invoice item as GET /v1/invoiceitems returns it; pending while `invoice` is null."""
    return {
        "id": item_id,
        "object": "invoiceitem",
        "amount": amount,
        "currency": currency,
        "customer": customer,
        "date": period[0],
        "description": None,
        "discountable": not proration,
        "discounts": [],
        "invoice": invoice_id,
        "livemode": LIVEMODE,
        "metadata": {},
        "parent": {
            "subscription_details": {
                "subscription": subscription_id,
                "subscription_item": subscription_item_id,
            },
            "type": "subscription_details",
        },
        "period": {"end": period[1], "start": period[0]},
        "pricing": {
            "price_details": {"price": price_id, "product": product_id},
            "type": "price_details",
            "unit_amount_decimal": str(amount // quantity) if quantity else "0",
        },
        "proration": proration,
        "quantity": quantity,
        "tax_rates": [],
        "test_clock": None,
    }


def customer(customer_id: str, name: str, *, created: int, email: str | None = None) -> Json:
    """A customer as GET /v1/customers returns it."""
    return {
        "id": customer_id,
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": "usd",
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": email,
        "invoice_prefix": customer_id[-8:].upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": LIVEMODE,
        "metadata": {},
        "name": name,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
