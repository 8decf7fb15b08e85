//! The first platform admin: from IVRHUB_ADMIN_EMAIL / IVRHUB_ADMIN_PASSWORD,
//! `ivrhub create-admin`, or, when neither was given and there is no
//! platform admin at all, a generated account printed once at start.

use sqlx::PgPool;

use crate::auth::{Role, password, tokens};
use crate::storage::accounts::{self, NewUser};

/// The account created when nobody configured one.
pub const GENERATED_ADMIN_EMAIL: &str = "admin@ivrhub.local";

pub enum Bootstrap {
    /// There already is a platform admin: nothing done.
    Existing,
    Created {
        email: String,
    },
    Generated {
        email: String,
        password: String,
    },
}

/// Creates the first platform admin if there is none.
pub async fn ensure_first_admin(
    pool: &PgPool,
    email: Option<&str>,
    given: Option<&str>,
) -> anyhow::Result<Bootstrap> {
    if accounts::count_platform_admins(pool).await? > 0 {
        return Ok(Bootstrap::Existing);
    }
    match (email, given) {
        (Some(email), Some(given)) => {
            create_platform_admin(pool, email, given).await?;
            Ok(Bootstrap::Created {
                email: email.trim().to_lowercase(),
            })
        }
        _ => {
            let generated = tokens::random_secret()[..20].to_owned();
            create_platform_admin(pool, GENERATED_ADMIN_EMAIL, &generated).await?;
            Ok(Bootstrap::Generated {
                email: GENERATED_ADMIN_EMAIL.into(),
                password: generated,
            })
        }
    }
}

/// Creates a platform admin (`ivrhub create-admin`).
pub async fn create_platform_admin(pool: &PgPool, email: &str, given: &str) -> anyhow::Result<()> {
    password::check_strength(given).map_err(|why| anyhow::anyhow!("the password {why}"))?;
    let email = email.trim().to_lowercase();
    let hash = password::hash(given.to_owned()).await?;
    let mut conn = pool.acquire().await?;
    let user = NewUser {
        tenant_id: None,
        email: &email,
        name: "Platform admin",
        role: Role::PlatformAdmin.as_str(),
        password_hash: &hash,
    };
    accounts::insert_user(&mut conn, &user).await?;
    Ok(())
}
