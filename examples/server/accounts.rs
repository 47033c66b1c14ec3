//! Users and their passwords: sign-up, and the password check at sign-in.
//!
//! Argon2 costs about 19 MiB and tens of milliseconds per hash, on purpose. Unbounded, a burst
//! of sign-ins would start one blocking thread each and hold gigabytes, and starve every other
//! route. [`Hashing`] runs at most one hash per core, queues a few more, and turns the rest away
//! at once. Each running hash works in one of a fixed set of reused 19 MiB buffers: freed and
//! allocated again per hash, glibc keeps them in per-thread arenas, and a burst grew the process
//! by 150 MiB even with two hashes at a time.

use std::sync::Arc;
use std::time::SystemTime;

use std::sync::Mutex;

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;
use tower_bearer::store::Timestamp;

use crate::users::{Account, Unavailable, User, Users};

/// Too many password hashes are running or waiting: answer `503` with `Retry-After`.
#[derive(Debug)]
pub(crate) struct Busy;

/// Argon2's working memory for one hash: `Params::DEFAULT.block_count()` blocks, 19 MiB.
type Memory = Vec<Block>;

/// The bound on concurrent password hashing.
pub(crate) struct Hashing {
    /// One permit per hash that may run now.
    running: Arc<Semaphore>,
    /// One permit per hash that may run or wait; beyond it, [`Busy`].
    admitted: Arc<Semaphore>,
    /// Working memory, one buffer per running hash at most, allocated on first use.
    memory: Arc<Mutex<Vec<Memory>>>,
}

impl Hashing {
    /// `parallel` hashes at once, and up to `queue` more waiting.
    pub(crate) fn new(parallel: usize, queue: usize) -> Self {
        Hashing {
            running: Arc::new(Semaphore::new(parallel)),
            admitted: Arc::new(Semaphore::new(parallel + queue)),
            memory: Arc::default(),
        }
    }

    /// Runs `work` on the blocking pool with a working buffer once a slot is free, or answers
    /// [`Busy`] at once.
    ///
    /// Both permits move into the blocking closure and are released when the hash ends, not
    /// when the caller stops waiting: a client that hangs up drops this future, but the hash
    /// already running keeps its slot until it is done, so no more than `parallel` ever run.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        let pool = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            let mut memory = pool.lock().unwrap().pop().unwrap_or_else(new_memory);
            let result = work(&mut memory);
            pool.lock().unwrap().push(memory);
            result
        })
        .await
        .map_err(|_| Busy)
    }
}

fn new_memory() -> Memory {
    vec![Block::default(); Params::DEFAULT.block_count()]
}

/// The registered users, and their passwords' checks.
pub(crate) struct Accounts {
    users: Users,
    hashing: Hashing,
    /// Verified against when the email is unknown, so that both failures take as long.
    dummy_hash: String,
}

/// Why a sign-up or sign-in could not be answered: `503` either way.
pub(crate) enum Refused {
    Busy(Busy),
    Unavailable(Unavailable),
}

impl From<Busy> for Refused {
    fn from(busy: Busy) -> Self {
        Refused::Busy(busy)
    }
}

impl From<Unavailable> for Refused {
    fn from(unavailable: Unavailable) -> Self {
        Refused::Unavailable(unavailable)
    }
}

impl Accounts {
    pub(crate) fn new(users: Users, hashing: Hashing) -> Self {
        Accounts {
            users,
            hashing,
            dummy_hash: hash_password(&mut new_memory(), "not a real password"),
        }
    }

    /// Registers a user under an email that is already valid and normalized; `Ok(None)` if the
    /// email is taken.
    pub(crate) async fn sign_up(
        &self,
        name: String,
        email: String,
        password: String,
    ) -> Result<Option<User>, Refused> {
        if self.users.by_email(&email).await?.is_some() {
            return Ok(None);
        }
        let password_hash = self
            .hashing
            .run(move |memory| hash_password(memory, &password))
            .await?;
        Ok(self.insert(name, email, password_hash).await?)
    }

    /// Registers a user without going through the hashing bound, unless the email is taken:
    /// for seeding at start-up.
    pub(crate) async fn seed(
        &self,
        name: &str,
        email: &str,
        password: &str,
    ) -> Result<(), Unavailable> {
        if self.users.by_email(email).await?.is_none() {
            let hash = hash_password(&mut new_memory(), password);
            self.insert(name.into(), email.into(), hash).await?;
        }
        Ok(())
    }

    async fn insert(
        &self,
        name: String,
        email: String,
        password_hash: String,
    ) -> Result<Option<User>, Unavailable> {
        let now = Timestamp::from(SystemTime::now());
        let account = Account {
            user: User {
                id: uuid::Uuid::new_v4().simple().to_string(),
                email,
                name,
                email_verified: false,
                image: None,
                created_at: now,
                updated_at: now,
            },
            password_hash,
        };
        let user = account.user.clone();
        Ok(self.users.insert(account).await?.then_some(user))
    }

    /// The user whose email and password these are; `Ok(None)` for a wrong password or an
    /// unknown email, which take equally long.
    pub(crate) async fn sign_in(
        &self,
        email: &str,
        password: String,
    ) -> Result<Option<User>, Refused> {
        let account = self.users.by_email(email).await?;
        let hash = account
            .as_ref()
            .map_or_else(|| self.dummy_hash.clone(), |a| a.password_hash.clone());
        let verified = self
            .hashing
            .run(move |memory| verify_password(memory, &password, &hash))
            .await?;
        Ok(account.filter(|_| verified).map(|a| a.user))
    }

    pub(crate) async fn user(&self, id: &str) -> Result<Option<User>, Unavailable> {
        Ok(self.users.by_id(id).await?.map(|a| a.user))
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Argon2id with the default parameters, in the PHC string format.
fn hash_password(memory: &mut Memory, password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random source works");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        .expect("argon2 accepts any password with default parameters");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
    let out = Output::new(&out).expect("32 bytes is a valid output length");
    let p = Params::DEFAULT;
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        p.m_cost(),
        p.t_cost(),
        p.p_cost(),
        salt.as_str(),
        out
    )
}

/// Whether `password` hashes to `phc`, compared in constant time (`Output`'s equality).
fn verify_password(memory: &mut Memory, password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
        .is_ok()
        && Output::new(&out).is_ok_and(|out| out == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_read_as_phc_strings() {
        let mut memory = new_memory();
        let hash = hash_password(&mut memory, "correct horse");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(&mut memory, "correct horse", &hash));
        assert!(!verify_password(&mut memory, "correct horsf", &hash));
        assert!(!verify_password(&mut memory, "correct horse", "not a hash"));
        // The standard verifier agrees.
        use argon2::password_hash::PasswordVerifier;
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
    }
}
