//! Records declared once: [`stored_record!`] writes a record struct together with the way it is
//! stored — its columns in field order, the function that reads it from a row and the values it
//! is written with — so the three can never disagree. Each field's Rust type says how it is
//! stored ([`Column`]); a field named differently in its table says so with `as "column"`.

use brandstream_domain::OrgId;
use serde_json::Value;

use crate::rows::{Bind, SqlRow};
use crate::{StoreError, StoreResult};

/// How a value of this type is stored: in one column (most types) or several ([`Stamp`]).
pub(crate) trait Column: Sized {
    /// Adds the column names this value is stored in; `column` is its field's column name.
    fn names(column: &'static str, out: &mut Vec<&'static str>) {
        out.push(column);
    }
    /// Reads the value from a row holding its [`names`](Column::names).
    fn read(row: &dyn SqlRow, column: &str) -> StoreResult<Self>;
    /// Adds the values it is written with, in [`names`](Column::names) order.
    fn bind<'a>(&'a self, out: &mut Vec<Bind<'a>>);
}

/// A record stored in one row: see [`stored_record!`].
pub(crate) trait Stored: Sized {
    /// The columns, comma-separated, in field order.
    fn columns() -> &'static str;
    /// The record from a row holding [`columns`](Stored::columns).
    fn from_row(row: &dyn SqlRow) -> StoreResult<Self>;
    /// The values the record is written with, in [`columns`](Stored::columns) order.
    fn values(&self) -> Vec<Bind<'_>>;
}

/// A field's column: its own name, or the one given with `as`.
macro_rules! column_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $column:literal) => {
        $column
    };
}
pub(crate) use column_name;

/// Declares a public record struct and its [`Stored`] implementation. Fields are written as in a
/// struct (doc comments included), each optionally followed by `as "column"`.
macro_rules! stored_record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                pub $field:ident : $ty:ty $(as $column:literal)?
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)+
        }

        impl $crate::record::Stored for $name {
            fn columns() -> &'static str {
                static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                COLUMNS.get_or_init(|| {
                    let mut names = Vec::new();
                    $(<$ty as $crate::record::Column>::names(
                        $crate::record::column_name!($field $(, $column)?),
                        &mut names,
                    );)+
                    names.join(", ")
                })
            }

            fn from_row(row: &dyn $crate::rows::SqlRow) -> $crate::StoreResult<Self> {
                Ok(Self {
                    $($field: <$ty as $crate::record::Column>::read(
                        row,
                        $crate::record::column_name!($field $(, $column)?),
                    )?,)+
                })
            }

            fn values(&self) -> Vec<$crate::rows::Bind<'_>> {
                let mut out = Vec::new();
                $($crate::record::Column::bind(&self.$field, &mut out);)+
                out
            }
        }
    };
}
pub(crate) use stored_record;

/// Declares a public enum stored (and sent) by fixed names, each variant written
/// `Variant = "name"`: with `ALL` (in declaration order), `as_str`, `parse`, `Display` and its
/// [`Column`] (an unknown stored name is a corrupt row).
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The stored and wire name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The value named `name` (exactly), if any.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|value| value.as_str() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::record::Column for $name {
            fn read(row: &dyn $crate::rows::SqlRow, column: &str) -> $crate::StoreResult<Self> {
                let text = row.text(column)?;
                Self::parse(&text).ok_or_else(|| {
                    $crate::StoreError::Corrupt(format!("column {column}: unknown value {text:?}"))
                })
            }
            fn bind<'a>(&'a self, out: &mut Vec<$crate::rows::Bind<'a>>) {
                out.push($crate::rows::Bind::Text(self.as_str()));
            }
        }
    };
}
pub(crate) use named_enum;

/// Who created a record and who changed it last, and when (Unix microseconds). Stored in the
/// columns `created_at`, `created_by`, `updated_at` and `updated_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Creation time.
    pub created_at: i64,
    /// The creating client (`sub`) or user.
    pub created_by: String,
    /// Last change time.
    pub updated_at: i64,
    /// The last changing client or user.
    pub updated_by: String,
}

impl Stamp {
    /// A record made by `actor` at `at`, not changed since.
    pub fn new(at: i64, actor: &str) -> Self {
        Stamp {
            created_at: at,
            created_by: actor.to_owned(),
            updated_at: at,
            updated_by: actor.to_owned(),
        }
    }

    /// Records a change by `actor` at `at`.
    pub fn touch(&mut self, at: i64, actor: &str) {
        self.updated_at = at;
        actor.clone_into(&mut self.updated_by);
    }
}

impl Column for Stamp {
    fn names(_column: &'static str, out: &mut Vec<&'static str>) {
        out.extend(["created_at", "created_by", "updated_at", "updated_by"]);
    }
    fn read(row: &dyn SqlRow, _column: &str) -> StoreResult<Self> {
        Ok(Stamp {
            created_at: row.int("created_at")?,
            created_by: row.text("created_by")?,
            updated_at: row.int("updated_at")?,
            updated_by: row.text("updated_by")?,
        })
    }
    fn bind<'a>(&'a self, out: &mut Vec<Bind<'a>>) {
        out.extend([
            Bind::Int(self.created_at),
            Bind::Text(&self.created_by),
            Bind::Int(self.updated_at),
            Bind::Text(&self.updated_by),
        ]);
    }
}

/// Types stored as one column read by a [`SqlRow`] getter and bound as one [`Bind`] variant.
macro_rules! plain_columns {
    ($($ty:ty => $get:ident, $bind:expr;)+) => {$(
        impl Column for $ty {
            fn read(row: &dyn SqlRow, column: &str) -> StoreResult<Self> {
                row.$get(column)
            }
            fn bind<'a>(&'a self, out: &mut Vec<Bind<'a>>) {
                let bind: fn(&'a $ty) -> Bind<'a> = $bind;
                out.push(bind(self));
            }
        }
    )+};
}
plain_columns! {
    String => text, |text| Bind::Text(text);
    Option<String> => opt_text, |text| Bind::OptText(text.as_deref());
    i64 => int, |value| Bind::Int(*value);
    Option<i64> => opt_int, |value| Bind::OptInt(*value);
    bool => flag, |flag| Bind::Flag(*flag);
    Option<bool> => opt_flag, |flag| Bind::OptFlag(*flag);
    Value => json, |value| Bind::Owned(value.to_string());
    Vec<u8> => bytes, |bytes| Bind::Bytes(bytes);
    // Serialising strings cannot fail.
    Vec<String> => json_list, |list| Bind::Owned(serde_json::to_string(list).unwrap_or_default());
}

/// An organisation id: stored as its text; text that is no valid id is a corrupt row.
impl Column for OrgId {
    fn read(row: &dyn SqlRow, column: &str) -> StoreResult<Self> {
        let text = row.text(column)?;
        OrgId::parse(&text)
            .map_err(|_| StoreError::Corrupt(format!("column {column}: unknown value {text:?}")))
    }
    fn bind<'a>(&'a self, out: &mut Vec<Bind<'a>>) {
        out.push(Bind::Text(self.as_str()));
    }
}

/// Record ids: stored (and bound as statement parameters) as their text, taken as stored.
macro_rules! id_columns {
    ($($ty:ty),+) => {$(
        impl<'a> From<&'a $ty> for Bind<'a> {
            fn from(id: &'a $ty) -> Self {
                Bind::Text(id.as_str())
            }
        }
        impl Column for $ty {
            fn read(row: &dyn SqlRow, column: &str) -> StoreResult<Self> {
                Ok(row.text(column)?.into())
            }
            fn bind<'a>(&'a self, out: &mut Vec<Bind<'a>>) {
                out.push(Bind::Text(self.as_str()));
            }
        }
    )+};
}
id_columns!(
    brandstream_domain::BrandKitId,
    brandstream_domain::SectionId,
    brandstream_domain::FieldId,
    brandstream_domain::DocumentId,
    brandstream_domain::ChunkId,
    brandstream_domain::RunId
);
