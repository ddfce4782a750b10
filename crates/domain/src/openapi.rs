//! OpenAPI schemas (feature `openapi`) of the domain values whose JSON form is written by
//! hand (`Serialize` impls): they are described from the same constants the values use.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema};
use utoipa::{PartialSchema, ToSchema};

use crate::catalog::Quality;
use crate::favorites::{ItemData, ItemType};
use crate::users::{Plan, Role, UserStatus};

fn string_enum<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

/// A string enumeration's schema, named `$name`, from the type's `ALL` and `as_str`.
macro_rules! string_enum_schema {
    ($($ty:ty => $name:literal, $description:literal;)+) => {$(
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                string_enum($description, <$ty>::ALL.iter().map(|v| v.as_str()))
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    )+};
}

string_enum_schema! {
    ItemType => "ItemType", "What a favorite points at.";
    Quality => "Quality", "A quality of a track.";
    Plan => "Plan", "A subscription plan; it sets the download quotas.";
    UserStatus => "UserStatus", "Whether a user may use the service.";
    Role => "Role", "What a user may administer.";
}

impl PartialSchema for ItemData {
    fn schema() -> RefOr<Schema> {
        let text = |max: usize, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max))
                .description(Some(description))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "The client's description of an item: ≤ 8 KiB of compact JSON; other keys are kept.",
            ))
            .property(
                "title",
                text(crate::favorites::MAX_TITLE_CHARS, "1–200 characters, not blank.").min_length(Some(1)),
            )
            .required("title")
            .property("cover", text(crate::favorites::MAX_TEXT_CHARS, "The cover image's URL or path."))
            .required("cover")
            .property(
                "duration",
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .format(Some(schema::SchemaFormat::KnownFormat(schema::KnownFormat::Double)))
                    .minimum(Some(0.0))
                    .description(Some("Seconds, ≥ 0.")),
            )
            .required("duration")
            .property(
                "category",
                ObjectBuilder::new()
                    .schema_type(schema::SchemaType::from_iter([Type::String, Type::Null]))
                    .max_length(Some(crate::favorites::MAX_TEXT_CHARS)),
            )
            .property(
                "metadata",
                ObjectBuilder::new()
                    .schema_type(schema::SchemaType::from_iter([Type::Object, Type::Null]))
                    .description(Some("Any JSON object.")),
            )
            .into()
    }
}

impl ToSchema for ItemData {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ItemData")
    }
}
