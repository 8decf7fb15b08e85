//! Passwords, tokens and login throttling. No HTTP here: `admin` uses it.

pub mod password;
pub mod throttle;
pub mod tokens;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a user may do. Platform admins belong to no tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    PlatformAdmin,
    TenantAdmin,
    Editor,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "platform_admin",
            Role::TenantAdmin => "tenant_admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Some(match text {
            "platform_admin" => Role::PlatformAdmin,
            "tenant_admin" => Role::TenantAdmin,
            "editor" => Role::Editor,
            "viewer" => Role::Viewer,
            _ => return None,
        })
    }

    /// Who may change a tenant's flows (nodes, schedules, recordings, DIDs' entry).
    pub fn can_edit_flows(self) -> bool {
        matches!(self, Role::PlatformAdmin | Role::TenantAdmin | Role::Editor)
    }

    /// Who may manage a tenant's users and read its audit log.
    pub fn can_administer_tenant(self) -> bool {
        matches!(self, Role::PlatformAdmin | Role::TenantAdmin)
    }
}
