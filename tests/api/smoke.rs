//! A first end-to-end walk through the API.

use crate::backend_tests;
use serde_json::json;

backend_tests! {
    async fn create_show_list_delete(srv: TestServer) {
        let admin = srv.admin();
        let img = admin
            .create(json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare",
                           "is_public": true, "size": 13_000_000, "properties": {"os": "linux"}}))
            .await;
        let id = img["id"].as_str().unwrap().to_owned();
        assert_eq!(img["status"], "active");
        assert_eq!(img["properties"]["os"], "linux");

        let shown = admin.get(&format!("/images/{id}")).await.expect(200);
        assert_eq!(shown.image()["name"], "cirros");
        assert_eq!(shown.header("x-image-meta-name").as_deref(), Some("cirros"));
        assert_eq!(shown.header("x-image-meta-property-os").as_deref(), Some("linux"));
        assert_eq!(shown.header("x-image-meta-is_public").as_deref(), Some("True"));

        let list = admin.get("/images").await.expect(200);
        assert_eq!(list.ids(), vec![id.clone()]);
        let brief = &list.images()[0];
        let mut keys: Vec<_> = brief.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["checksum", "container_format", "disk_format", "id", "name", "size"]);

        let deleted = admin.delete(&format!("/images/{id}")).await.expect(200);
        assert_eq!(deleted.image()["deleted"], true);
        assert_eq!(deleted.image()["status"], "deleted");
        admin.get("/images").await.expect(200).images().is_empty().then_some(()).expect("list empty after delete");
        admin.delete(&format!("/images/{id}")).await.expect_error(404);
    }
}
