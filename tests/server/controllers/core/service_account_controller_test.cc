// The ServiceAccount controller: a "default" ServiceAccount in every namespace, made again
// when deleted, none in a namespace being deleted.
#include "server/controllers/core/service_account_controller.h"

#include <gtest/gtest.h>

#include "tests/server/controllers/controller_fixture.h"

namespace nave::controllers {
namespace {

using testing::waitFor;

const client::Resource kServiceAccounts{"", "v1", "serviceaccounts"};

class ServiceAccountControllerTest : public ::testing::Test, public testing::ControllerFixture {
 protected:
  void SetUp() override { run<ServiceAccountController>(); }
  bool hasDefault(const std::string& ns) { return client().get(kServiceAccounts, ns, "default").ok(); }
};

TEST_F(ServiceAccountControllerTest, EveryNamespaceGetsADefaultServiceAccount) {
  EXPECT_TRUE(waitFor([&] { return hasDefault("default") && hasDefault("other"); }));
  ASSERT_TRUE(client()
                  .create(client::kNamespaces, "",
                          Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "fresh"}}}})
                  .ok());
  EXPECT_TRUE(waitFor([&] { return hasDefault("fresh"); }));
  ASSERT_TRUE(client().remove(kServiceAccounts, "fresh", "default").ok());
  EXPECT_TRUE(waitFor([&] { return hasDefault("fresh"); })) << "made again";
}

}  // namespace
}  // namespace nave::controllers
