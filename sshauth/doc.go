// Package sshauth authorizes SSH logins by DNS names: an authorization file
// lists the names a user may log in as, each name publishes its SSH public
// keys as TLSA records in a DNSSEC-signed zone, and OpenSSH's
// AuthorizedKeysCommand ("dance ssh authorized-keys") prints the keys those
// names publish now (architecture Example 11). Removing a record locks its
// key out; rotating a key is one DNS update.
//
// For most uses, build a verify.Core whose allow-list holds the names of
// the file, then call Authorize:
//
//	path, err := sshauth.AuthorizationPath(sshauth.DefaultDir, user)
//	file, err := sshauth.ReadAuthorizationFile(path)
//	allow, err := verify.ParseAllowList(file.Names)
//	core, err := verify.New(verify.Config{Resolver: r, Allow: allow})
//	res := sshauth.Authorize(ctx, core, file.Names, offered, sshauth.DefaultDeadline)
//	err = sshauth.WriteAuthorizedKeys(os.Stdout, res)
//
// offered is the key sshd passes (%t %k), or nil to list every key.
//
// # Records
//
// An SSH public key is published as the TLSA record of its
// SubjectPublicKeyInfo with usage DANE-EE: "3 1 0" carries the key itself,
// "3 1 1" and "3 1 2" its SHA2-256 or SHA2-512 digest (RFC 6698 §2.1,
// RFC 7671 §5.1). Records returns the "3 1 0" record of a key.
//
// When sshd passes the offered key (%t %k), every form matches: the key is
// converted to its SubjectPublicKeyInfo and verified as an RFC 7250 raw
// public key by verify.Core, with its digest rules (RFC 7671 §9) and the
// revocation marker. Without the offered key only "3 1 0" records can be
// listed, since a digest names a key without giving it
// (verify.Core.PublishedKeys). Certificate records (selector 0, usages
// 0-2) bind X.509 certificates, not bare SSH keys, and are not used.
//
// Supported keys: ssh-ed25519, ecdsa-sha2-nistp256, -nistp384, -nistp521,
// and ssh-rsa of at least 2048 bits (MinRSABits). Security-key types
// (sk-*) and OpenSSH certificates have no SubjectPublicKeyInfo that keeps
// what they mean (the FIDO application, the CA's signature) and are
// refused.
//
// # Security considerations
//
// Only DNSSEC Secure answers print a key: insecure, bogus and
// indeterminate answers, names that are not allowed and lookups past the
// deadline print nothing for that name. sshd waits on the command before it
// answers the client, so Authorize returns by its deadline whatever the
// resolver does (the lookups left behind are cancelled through ctx).
// Names a user's file lists are the names the user may log in as: the file
// must not be writable by anyone but its owner, as sshd's StrictModes
// requires of authorized_keys (CheckFileMode).
package sshauth
