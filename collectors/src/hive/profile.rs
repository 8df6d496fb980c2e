//! Tells the profile hives no interactive user logs on with from the users' own.

use std::path::Path;

/// Whether the user profile hive at `path` belongs to no interactive user: the default
/// profile (`Windows\System32\config\DEFAULT`, `HKU\.DEFAULT`, what the logon screen runs
/// with), the template new profiles are copied from (`Users\Default\NTUSER.DAT`, `Default
/// User` before Windows Vista), or a service account's (`config\systemprofile\NTUSER.DAT`
/// for LocalSystem, `ServiceProfiles\LocalService\NTUSER.DAT` and `NetworkService`). A triage
/// collection copies them beside the users' own `NTUSER.DAT`; read as `HKCU`, they would make
/// a host without any user's profile look as if its users' settings and mounted shares were
/// known.
pub(crate) fn is_account_profile(path: &Path) -> bool {
    let names: Vec<String> = path
        .components()
        .filter_map(|component| component.as_os_str().to_str())
        .map(str::to_ascii_uppercase)
        .collect();
    let Some((file, folders)) = names.split_last() else {
        return false;
    };
    if file == "DEFAULT" {
        return true;
    }
    if file != "NTUSER.DAT" {
        return false;
    }
    let parent = folders.last().map(String::as_str);
    let grandparent = folders.len().checked_sub(2).map(|at| folders[at].as_str());
    (parent == Some("SYSTEMPROFILE") && grandparent == Some("CONFIG"))
        || grandparent == Some("SERVICEPROFILES")
        || (matches!(parent, Some("DEFAULT" | "DEFAULT USER"))
            && matches!(grandparent, Some("USERS" | "DOCUMENTS AND SETTINGS")))
}

#[cfg(test)]
mod tests {
    use super::is_account_profile;
    use std::path::Path;

    #[test]
    fn default_and_service_profiles_are_told_from_users() {
        for (path, expected) in [
            ("C/Windows/System32/config/DEFAULT", true),
            ("c/windows/system32/config/default", true),
            ("C/Windows/System32/config/systemprofile/NTUSER.DAT", true),
            ("C/Windows/ServiceProfiles/LocalService/NTUSER.DAT", true),
            ("C/Windows/ServiceProfiles/NetworkService/ntuser.dat", true),
            ("C/Users/Default/NTUSER.DAT", true),
            ("C/Documents and Settings/Default User/NTUSER.DAT", true),
            ("C/Users/alice/NTUSER.DAT", false),
            ("C/Users/Default/alice/NTUSER.DAT", false),
            ("C/Users/systemprofile/NTUSER.DAT", false),
            ("bundle/PC1/NTUSER.DAT", false),
            ("bundle/PC1_HKCU.HIV", false),
            ("DEFAULT.hiv", false),
            ("NTUSER.DAT", false),
        ] {
            assert_eq!(is_account_profile(Path::new(path)), expected, "{path}");
        }
    }
}
