//! Reading an enrollment form's elements, with a refusal a parent can read for anything missing or wrong: shared by
//! both versions of the format.
#![forbid(unsafe_code)]

use crate::school::kindergarten::model::Coded;
use crate::school::Snils;
use crate::xml::{Document, NodeId};
use time::macros::format_description;
use time::Date;

/// An application that cannot be accepted, with its order id when it could be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    /// The order, when the form got that far.
    pub order_id: Option<i64>,
    /// The OKTMO, when the form got that far.
    pub oktmo: Option<String>,
    /// Why, for the parent.
    pub reason: String,
}

/// Reads the elements of one form in one namespace, remembering the order and OKTMO once read for the refusal.
pub struct Reader<'d, 'a> {
    /// The parsed form.
    pub doc: &'d Document<'a>,
    /// The namespace of the form's elements (the root's).
    pub ns: &'d str,
    /// The order, once read.
    pub order_id: Option<i64>,
    /// The OKTMO, once read.
    pub oktmo: Option<String>,
}

impl<'d, 'a> Reader<'d, 'a> {
    /// A reader of `doc`'s elements in `ns`.
    pub fn new(doc: &'d Document<'a>, ns: &'d str) -> Reader<'d, 'a> {
        Reader { doc, ns, order_id: None, oktmo: None }
    }

    /// A refusal for `reason`, naming the order and OKTMO read so far.
    pub fn refuse(&self, reason: impl Into<String>) -> Refusal {
        Refusal { order_id: self.order_id, oktmo: self.oktmo.clone(), reason: reason.into() }
    }

    /// The child element `local`, required.
    pub fn node(&self, parent: NodeId, local: &str) -> Result<NodeId, Refusal> {
        self.opt_node(parent, local).ok_or_else(|| self.refuse(format!("в заявлении нет поля {local}")))
    }

    /// The child element `local`, if present.
    pub fn opt_node(&self, parent: NodeId, local: &str) -> Option<NodeId> {
        self.doc.child(parent, self.ns, local)
    }

    /// Every child element `local`, in document order.
    pub fn nodes<'s>(&'s self, parent: NodeId, local: &'s str) -> impl Iterator<Item = NodeId> + 's {
        self.doc.child_elements(parent).filter(move |&c| self.doc.is(c, self.ns, local))
    }

    /// The trimmed text of the child element `local`, required and not empty.
    pub fn text(&self, parent: NodeId, local: &str) -> Result<String, Refusal> {
        let text = self.doc.text(self.node(parent, local)?).trim().to_string();
        if text.is_empty() {
            return Err(self.refuse(format!("поле {local} не заполнено")));
        }
        Ok(text)
    }

    /// The trimmed text of the child element `local`, when present and not empty.
    pub fn opt_text(&self, parent: NodeId, local: &str) -> Option<String> {
        let text = self.doc.text(self.opt_node(parent, local)?).trim().to_string();
        (!text.is_empty()).then_some(text)
    }

    /// The trimmed text of the child element `local`, required, possibly empty (an address part the portal leaves
    /// blank).
    pub fn text_or_empty(&self, parent: NodeId, local: &str) -> Result<String, Refusal> {
        Ok(self.doc.text(self.node(parent, local)?).trim().to_string())
    }

    /// A date (`YYYY-MM-DD`) in the child element `local`.
    pub fn date(&self, parent: NodeId, local: &str) -> Result<Date, Refusal> {
        let text = self.text(parent, local)?;
        self.date_of(&text, local)
    }

    /// A date in the child element `local`, when present.
    pub fn opt_date(&self, parent: NodeId, local: &str) -> Result<Option<Date>, Refusal> {
        self.opt_text(parent, local).map(|text| self.date_of(&text, local)).transpose()
    }

    fn date_of(&self, text: &str, local: &str) -> Result<Date, Refusal> {
        Date::parse(text, format_description!("[year]-[month]-[day]"))
            .map_err(|_| self.refuse(format!("дата в поле {local} («{text}») указана неверно")))
    }

    /// A SNILS with its check number in the child element `local`; `whose` names the person in the refusal.
    pub fn snils(&self, parent: NodeId, local: &str, whose: &str) -> Result<Snils, Refusal> {
        let text = self.text(parent, local)?;
        Snils::parse(&text).map_err(|e| self.refuse(format!("СНИЛС {whose} указан неверно: {e}")))
    }

    /// A boolean (`true`, `false`, `1`, `0`) in the child element `local`.
    pub fn boolean(&self, parent: NodeId, local: &str) -> Result<bool, Refusal> {
        match self.text(parent, local)?.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(self.refuse(format!("поле {local} («{other}») должно быть true или false"))),
        }
    }

    /// A dictionary value (text and `@code`) in the child element `local`, required; the code may be empty.
    pub fn coded(&self, parent: NodeId, local: &str) -> Result<Coded, Refusal> {
        let node = self.node(parent, local)?;
        Ok(self.coded_of(node))
    }

    /// A dictionary value in the child element `local`, when present.
    pub fn opt_coded(&self, parent: NodeId, local: &str) -> Option<Coded> {
        self.opt_node(parent, local).map(|node| self.coded_of(node))
    }

    /// The dictionary value of `node`.
    pub fn coded_of(&self, node: NodeId) -> Coded {
        Coded {
            code: self.doc.attr(node, "code").map(str::trim).unwrap_or("").to_string(),
            text: self.doc.text(node).trim().to_string(),
        }
    }

    /// The form's `@oktmo`: 8 or 11 digits.
    pub fn oktmo(&mut self, root: NodeId) -> Result<String, Refusal> {
        let oktmo = self.doc.attr(root, "oktmo").map(str::trim).unwrap_or("").to_string();
        if !(oktmo.len() == 8 || oktmo.len() == 11) || !oktmo.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.refuse(format!("код ОКТМО «{oktmo}» указан неверно")));
        }
        self.oktmo = Some(oktmo.clone());
        Ok(oktmo)
    }

    /// The order number in the child element `orderId` of `parent`.
    pub fn order_id(&mut self, parent: NodeId) -> Result<i64, Refusal> {
        let text = self.text(parent, "orderId")?;
        self.order_id = text.parse().ok();
        self.order_id.ok_or_else(|| self.refuse(format!("номер заявления «{text}» указан неверно")))
    }

    /// The grade (1..=11) in the child element `Grade`.
    pub fn grade(&self, parent: NodeId) -> Result<u8, Refusal> {
        let text = self.text(parent, "Grade")?;
        let grade = text.parse::<u8>().ok().filter(|g| (1..=11).contains(g));
        grade.ok_or_else(|| self.refuse(format!("класс «{text}» указан неверно: ожидается 1–11")))
    }

    /// The academic year ("2027/2028") in the child element `AcademicYear`.
    pub fn academic_year(&self, parent: NodeId) -> Result<String, Refusal> {
        let year = self.text(parent, "AcademicYear")?;
        let ok = year
            .split_once('/')
            .and_then(|(a, b)| Some((a.parse::<i32>().ok()?, b.parse::<i32>().ok()?)))
            .is_some_and(|(a, b)| b == a + 1);
        if ok {
            Ok(year)
        } else {
            Err(self.refuse(format!("учебный год «{year}» указан неверно: ожидается, например, 2027/2028")))
        }
    }
}
