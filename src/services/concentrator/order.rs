//! kindergarten-order (the region as a consumer): the `OrderRequest` that opens and updates the order in the
//! parent's EPGU account for an application filed elsewhere, and the portal's `OrderResponse`.
#![forbid(unsafe_code)]

use crate::services::concentrator::cursor::{El, Reader};
use crate::services::concentrator::shape::{self, Shape};
use crate::services::concentrator::types::{
    Env, OrderRequest, OrderResponse, OrderVersion, ReadError, StatusEntry, WriteError,
};
use crate::services::concentrator::write::{self as w, Body, W};
use crate::xml::{Document, NodeId};

/// The schema's limit of `statusComment`.
pub const STATUS_COMMENT_MAX: usize = 4000;

/// Writes an `OrderRequest[@env]` in `version`'s namespace. The application block follows the version's schema
/// (1.0.0: the 3.2.1 shape, 1.0.1: the 4.0.1 person and child changes), without files; the history needs at
/// least one entry.
pub fn write_order_request(version: OrderVersion, env: Env, request: &OrderRequest<'_>) -> Result<String, WriteError> {
    let sh = match version {
        OrderVersion::V1_0_0 => &shape::ORDER_1_0_0,
        OrderVersion::V1_0_1 => &shape::ORDER_1_0_1,
    };
    let mut out = W::new(version.namespace(), "OrderRequest", &[("env", env.as_str())]);
    match request {
        OrderRequest::Create { info_request_order_id, request_date, history, application } => {
            out.open("CreateOrderRequest");
            out.value("orderId_InfoRequest", info_request_order_id);
            out.datetime("requestDate", *request_date)?;
            status_history(&mut out, history)?;
            application_block(&mut out, application, sh)?;
        }
        OrderRequest::Update { order_id, history, application } => {
            out.open("UpdateOrderRequest");
            out.value("orderId", order_id);
            status_history(&mut out, history)?;
            if let Some(app) = application {
                application_block(&mut out, app, sh)?;
            }
        }
    }
    out.close();
    Ok(out.finish())
}

fn application_block(
    out: &mut W,
    app: &crate::school::kindergarten::model::KindergartenApplication,
    sh: &Shape,
) -> Result<(), WriteError> {
    out.open("application");
    w::application(out, app, sh, Body::Order)?;
    out.close();
    Ok(())
}

fn status_history(out: &mut W, history: &[StatusEntry]) -> Result<(), WriteError> {
    if history.is_empty() {
        return Err(out.inexpressible("statusHistoryList", "no status: the schema requires at least one"));
    }
    out.open("statusHistoryList");
    for entry in history {
        out.open("statusHistory");
        out.status_code(entry.code);
        out.datetime("statusDate", entry.at)?;
        out.comment("statusComment", entry.comment.as_deref(), STATUS_COMMENT_MAX);
        out.opt_bool("cancelAllowed", entry.cancel_allowed);
        out.close();
    }
    out.close();
    Ok(())
}

/// Reads the portal's `OrderResponse` (either version), strictly in schema order.
pub fn read_order_response(doc: &Document<'_>, root: NodeId) -> Result<OrderResponse, ReadError> {
    let Some(element) = doc.as_element(root) else {
        return Err(ReadError {
            order_id: None, path: String::new(), message: "нет элемента OrderResponse".into()
        });
    };
    let ns = doc.element_ns(root);
    let r = Reader::new(doc, ns);
    let root_el = El { id: root, path: element.local.to_string() };
    if OrderVersion::from_namespace(ns).is_none() {
        return Err(r.err(&root_el.path, format!("неизвестная версия вида сведений: пространство имён «{ns}»")));
    }
    if element.local != "OrderResponse" {
        return Err(r.err(&root_el.path, "ожидался элемент OrderResponse"));
    }
    let mut s = r.seq(&root_el);
    let response = if let Some(el) = s.opt("CreateOrderResponse") {
        let mut c = r.seq(&el);
        let response = OrderResponse::Created {
            code: c.byte("code")?,
            message: c.str("message", 256)?,
            info_request_order_id: c.long("orderId_InfoRequest")?,
            order_id: match c.opt("orderId") {
                Some(id) => Some(crate::services::concentrator::cursor::typed_value(
                    &r,
                    &id,
                    crate::services::concentrator::cursor::parse_long,
                    "целое число (xsd:long)",
                )?),
                None => None,
            },
        };
        c.end()?;
        response
    } else if let Some(el) = s.opt("UpdateOrderResponse") {
        let mut u = r.seq(&el);
        let response = OrderResponse::Updated { code: u.byte("code")?, message: u.str("message", 256)? };
        u.end()?;
        response
    } else {
        s.end()?;
        return Err(r.err(
            &format!("{}/CreateOrderResponse", root_el.path),
            "нет ответа (CreateOrderResponse или UpdateOrderResponse)",
        ));
    };
    s.end()?;
    Ok(response)
}
