#include "control/db/db_url.h"

#include <gtest/gtest.h>

namespace sipd::db {
namespace {

TEST(DbUrl, ThreeSlashesIsAnAbsolutePath) {
  const DbUrl u = parse_db_url("sqlite:///var/lib/sipd/sipd.db");
  ASSERT_TRUE(u.ok()) << u.error;
  EXPECT_EQ(u.path, "/var/lib/sipd/sipd.db");
}

TEST(DbUrl, TwoSlashesOpensFromTheRootAsOpenSipsDoes) {
  // OpenSIPS's db_sqlite gives SQLite what follows "sqlite:/", i.e. "/var/lib/..." here.
  const DbUrl u = parse_db_url("sqlite://var/lib/sipd/sipd.db");
  ASSERT_TRUE(u.ok()) << u.error;
  EXPECT_EQ(u.path, "/var/lib/sipd/sipd.db");
}

TEST(DbUrl, ExtraSlashesAndCaseAndBlanks) {
  EXPECT_EQ(parse_db_url("sqlite:////tmp/x.db").path, "/tmp/x.db");
  EXPECT_EQ(parse_db_url("SQLite:///tmp/x.db").path, "/tmp/x.db");
  EXPECT_EQ(parse_db_url("  sqlite:///tmp/x.db\n").path, "/tmp/x.db");
}

TEST(DbUrl, OtherSchemesAreRefusedWithTheirName) {
  const DbUrl my = parse_db_url("mysql://opensips:opensipsrw@localhost/opensips");
  EXPECT_FALSE(my.ok());
  EXPECT_EQ(my.error,
            "db_url scheme 'mysql' is not built into this build: sipd has the embedded SQLite database "
            "(sqlite:///path)");
  const DbUrl pg = parse_db_url("postgres://user:pw@host/db");
  EXPECT_NE(pg.error.find("db_url scheme 'postgres' is not built into this build"), std::string::npos);
  EXPECT_NE(parse_db_url("text:///var/dbtext").error.find("'text'"), std::string::npos);
}

TEST(DbUrl, MalformedUrlsSayWhy) {
  EXPECT_NE(parse_db_url("/var/lib/sipd.db").error.find("no scheme"), std::string::npos);
  EXPECT_NE(parse_db_url("").error.find("no scheme"), std::string::npos);
  EXPECT_NE(parse_db_url("sqlite:/x.db").error.find("expected sqlite:///"), std::string::npos);
  EXPECT_NE(parse_db_url("sqlite://").error.find("names no database file"), std::string::npos);
  EXPECT_NE(parse_db_url("sqlite:///").error.find("names no database file"), std::string::npos);
  EXPECT_NE(parse_db_url("sqlite:///var/lib/").error.find("directory"), std::string::npos);
}

}  // namespace
}  // namespace sipd::db
