//! Ready-made events that hiveward's rules read, with realistic fields and values.
//!
//! Each function fills the fields its event has on Windows; the arguments are the ones the
//! rules look at, and the rest get plausible defaults. Any field can be changed afterwards
//! with [`Event::data`], which replaces a field in place, and so can the System values
//! (`.computer(…)`, `.time(…)`…).

use crate::event::Event;
use crate::value::{parse_guid, Value};

/// Keywords of a successful security audit.
pub const AUDIT_SUCCESS: u64 = 0x8020_0000_0000_0000;
/// Keywords of a failed security audit.
pub const AUDIT_FAILURE: u64 = 0x8010_0000_0000_0000;

const SECURITY_AUDITING: &str = "Microsoft-Windows-Security-Auditing";
const SECURITY_AUDITING_GUID: &str = "{54849625-5478-4994-A5BA-3E3B0328C30D}";
const SMB_SERVER: &str = "Microsoft-Windows-SMBServer";
const SMB_SERVER_GUID: &str = "{D48CE617-33A2-4BC3-A5C7-11AA4F29619E}";

fn guid(text: &str) -> [u8; 16] {
    parse_guid(text).expect("a GUID written in this file")
}

fn security_event(event_id: u16, keywords: u64) -> Event {
    Event::new("Security", SECURITY_AUDITING, event_id)
        .provider_guid(guid(SECURITY_AUDITING_GUID))
        .keywords(keywords)
        .execution(812, 4120)
}

/// Security 5168, "SPN check for SMB/SMB2 failed": a client asked the SMB server for
/// `spn_name` and the server refused it with `error_code` (an NTSTATUS such as `0xC0000022`,
/// access denied), on a file server `FS01`.
///
/// Fields: SubjectUserSid (SID), SubjectUserName, SubjectDomainName, SubjectLogonId (hex),
/// SpnName, ErrorCode (hex), ServerNames, ConfiguredNames, IpAddresses.
pub fn security_5168(spn_name: &str, error_code: u32) -> Event {
    security_event(5168, AUDIT_FAILURE)
        .task(12808)
        .computer("FS01.corp.example")
        .data("SubjectUserSid", Value::Sid("S-1-5-18".into()))
        .data("SubjectUserName", "FS01$")
        .data("SubjectDomainName", "CORP")
        .data("SubjectLogonId", Value::Hex64(0x3e7))
        .data("SpnName", spn_name)
        .data("ErrorCode", Value::Hex32(error_code))
        .data("ServerNames", "FS01.corp.example FS01 localhost")
        .data("ConfiguredNames", "FS01 FS01.corp.example")
        .data("IpAddresses", "10.0.0.5 ::1 127.0.0.1")
}

/// Microsoft-Windows-SMBServer/Security 551, "SMB Session Authentication Failure": the SMB
/// server rejected `user_name` from `client_name` asking for `spn` with `status` (an
/// NTSTATUS) under SPN validation policy `spn_validation_policy` (the
/// SmbServerNameHardeningLevel, 0–2).
///
/// Fields: SessionGUID (GUID), ConnectionGUID (GUID), Status (hex), ClientAddress (a string
/// here; Windows logs it as binary, which readers show as hex bytes), UserName, ClientName,
/// SPN, SPNValidationPolicy (UInt32).
pub fn smb_server_551(
    user_name: &str,
    client_name: &str,
    spn: &str,
    status: u32,
    spn_validation_policy: u32,
) -> Event {
    Event::new("Microsoft-Windows-SMBServer/Security", SMB_SERVER, 551)
        .provider_guid(guid(SMB_SERVER_GUID))
        .level(2)
        .task(551)
        .keywords(0x8000_0000_0000_0000)
        .execution(4, 1196)
        .computer("FS01.corp.example")
        .user_id("S-1-5-18")
        .data(
            "SessionGUID",
            Value::Guid(guid("{7B5C0B6A-2A4E-4F7E-9C39-5E0D8F1A2B3C}")),
        )
        .data(
            "ConnectionGUID",
            Value::Guid(guid("{0F3E2D1C-4B5A-6978-8796-A5B4C3D2E1F0}")),
        )
        .data("Status", Value::Hex32(status))
        .data("ClientAddress", "10.0.0.21")
        .data("UserName", user_name)
        .data("ClientName", client_name)
        .data("SPN", spn)
        .data("SPNValidationPolicy", Value::UInt32(spn_validation_policy))
}

/// System 4 from Microsoft-Windows-Security-Kerberos (event source `Kerberos`, qualifiers
/// 49152), KRB_AP_ERR_MODIFIED: a ticket for `target_name` could not be decrypted by
/// `server`, typically because the SPN is registered on another account.
///
/// Fields: Server, TargetRealm, Targetname, ClientRealm (strings).
pub fn kerberos_system_4(server: &str, target_name: &str) -> Event {
    Event::new("System", "Microsoft-Windows-Security-Kerberos", 4)
        .event_source_name("Kerberos")
        .qualifiers(49152)
        .level(2)
        .keywords(0x0080_0000_0000_0000)
        .execution(0, 0)
        .computer("WS042.corp.example")
        .data("Server", server)
        .data("TargetRealm", "CORP.EXAMPLE")
        .data("Targetname", target_name)
        .data("ClientRealm", "CORP.EXAMPLE")
}

/// Security 4624, "An account was successfully logged on": `target_user` logged on with
/// `logon_type` (3 network, 10 remote interactive…) through `authentication_package`
/// (`NTLM`, `Kerberos`, `Negotiate`) and LM package `lm_package` (`NTLM V1`, `NTLM V2` or `-`),
/// from workstation `WS042` at 10.0.0.21.
///
/// Fields: SubjectUserSid (SID), SubjectUserName, SubjectDomainName, SubjectLogonId (hex),
/// TargetUserSid (SID), TargetUserName, TargetDomainName, TargetLogonId (hex), LogonType
/// (UInt32), LogonProcessName, AuthenticationPackageName, WorkstationName, LogonGuid (GUID),
/// TransmittedServices, LmPackageName, KeyLength (UInt32), ProcessId (hex), ProcessName,
/// IpAddress, IpPort.
pub fn security_4624(
    target_user: &str,
    logon_type: u32,
    authentication_package: &str,
    lm_package: &str,
) -> Event {
    let ntlm = authentication_package.eq_ignore_ascii_case("NTLM");
    security_event(4624, AUDIT_SUCCESS)
        .version(2)
        .task(12544)
        .computer("FS01.corp.example")
        .data("SubjectUserSid", Value::Sid("S-1-0-0".into()))
        .data("SubjectUserName", "-")
        .data("SubjectDomainName", "-")
        .data("SubjectLogonId", Value::Hex64(0))
        .data(
            "TargetUserSid",
            Value::Sid("S-1-5-21-1004336348-1177238915-682003330-1105".into()),
        )
        .data("TargetUserName", target_user)
        .data("TargetDomainName", "CORP")
        .data("TargetLogonId", Value::Hex64(0x0015_a3c2))
        .data("LogonType", Value::UInt32(logon_type))
        .data(
            "LogonProcessName",
            if ntlm { "NtLmSsp " } else { "Kerberos" },
        )
        .data("AuthenticationPackageName", authentication_package)
        .data("WorkstationName", "WS042")
        .data("LogonGuid", Value::Guid([0; 16]))
        .data("TransmittedServices", "-")
        .data("LmPackageName", lm_package)
        .data("KeyLength", Value::UInt32(if ntlm { 128 } else { 0 }))
        .data("ProcessId", Value::Hex64(0))
        .data("ProcessName", "-")
        .data("IpAddress", "10.0.0.21")
        .data("IpPort", "50112")
}

/// Setup 2 from Microsoft-Windows-Servicing, "Package … was successfully changed to the …
/// state": `package` (`KB5005565`) changed to `intended_state` (`Installed`, `Staged`…) with
/// `error_code` (an HRESULT, 0 for success) at the request of `client` (`WindowsUpdateAgent`,
/// `UpdateAgentLCU`, `DISM Package Manager Provider`…).
///
/// It is a UserData event, as on Windows: `<UserData><CbsPackageChangeState xmlns="…">`
/// holding PackageIdentifier, IntendedPackageState, IntendedPackageStateTextized, ErrorCode
/// (hex) and Client.
pub fn servicing_setup_2(
    package: &str,
    intended_state: &str,
    error_code: u32,
    client: &str,
) -> Event {
    Event::new("Setup", "Microsoft-Windows-Servicing", 2)
        .provider_guid(guid("{BD12F3B8-FC40-4A61-A307-B7A013A069C1}"))
        .level(4)
        .task(1)
        .keywords(0x8000_0000_0000_0000)
        .execution(3712, 5020)
        .computer("FS01.corp.example")
        .user_id("S-1-5-18")
        .user_data(
            "CbsPackageChangeState",
            "http://manifests.microsoft.com/win/2004/08/windows/setup_provider",
        )
        .data("PackageIdentifier", package)
        .data("IntendedPackageState", intended_state)
        .data("IntendedPackageStateTextized", intended_state)
        .data("ErrorCode", Value::Hex32(error_code))
        .data("Client", client)
}

/// Microsoft-Windows-SMBServer/Operational 1003: `user_name` on `client_name` reached the
/// share `share_name`.
///
/// Fields: ShareName, ClientName, UserName, ClientAddress (strings) and SessionID (UInt64).
pub fn smb_server_operational_1003(share_name: &str, client_name: &str, user_name: &str) -> Event {
    Event::new("Microsoft-Windows-SMBServer/Operational", SMB_SERVER, 1003)
        .provider_guid(guid(SMB_SERVER_GUID))
        .level(4)
        .keywords(0x4000_0000_0000_0000)
        .execution(4, 2288)
        .computer("FS01.corp.example")
        .user_id("S-1-5-18")
        .data("ShareName", share_name)
        .data("ClientName", client_name)
        .data("UserName", user_name)
        .data("ClientAddress", "10.0.0.21")
        .data("SessionID", Value::UInt64(0x0000_1400_0000_0045))
}
