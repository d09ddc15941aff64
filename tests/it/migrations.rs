//! Every migration goes up, down and up again on the test database (SQLite or PostgreSQL).

use migration::{Migrator, MigratorTrait};

use crate::harness::{fresh_database, unique};

#[test]
fn migrations_up_down_up() {
    let dir = std::env::temp_dir().join(unique("vouchsafe-mig-"));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = actix_web::rt::System::new();
    rt.block_on(async {
        let url = fresh_database(&dir).await;
        let db = sea_orm::Database::connect(&url).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        assert!(Migrator::get_pending_migrations(&db).await.unwrap().is_empty());
        Migrator::down(&db, None).await.unwrap();
        assert_eq!(Migrator::get_pending_migrations(&db).await.unwrap().len(), Migrator::migrations().len());
        Migrator::up(&db, None).await.unwrap();
    });
    std::fs::remove_dir_all(&dir).ok();
}
