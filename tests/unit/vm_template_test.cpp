// Template VMs: the manifest a template is checked against (handoff/vm_template.hpp), which VMs
// a template carries, and QEMU's command lines for building and restoring one
// (container/runcvm-init/vm_command.hpp), whose device sets must match.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>

#include "container/runcvm-init/vm_command.hpp"
#include "container/runcvm-init/vm_template.hpp"
#include "handoff/launch.hpp"
#include "handoff/vm_template.hpp"
#include "tests/unit/support.hpp"

using namespace runcvm;
using Catch::Matchers::ContainsSubstring;

namespace {

handoff::TemplateManifest sample_manifest() {
  return {.key = {.boot_id = "b0",
                  .qemu = "1:2:3:4",
                  .firmware = "bios.bin=1:5:6:7;",
                  .kernel = "1:8:9:10",
                  .initrd = "1:11:12:13",
                  .command = "qemu -machine q35",
                  .host_cpu = ""},
          .state_bytes = 355123,
          .state_crc32 = 0xdeadbeef,
          .ram_bytes = 512ull << 20,
          .ram_crc32 = 0x12345678,
          .built_at = 1796000000};
}

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// The devices QEMU's command line gives the machine (-device, -serial), in order: what a saved
// state must find again when it is loaded.
std::vector<std::string> devices(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == "-device" || argv[i] == "-serial") out.push_back(argv[i] + " " + argv[i + 1]);
  return out;
}

}  // namespace

TEST_CASE("a template's manifest is written and read back, and anything else is refused", "[template]") {
  handoff::TemplateManifest manifest = sample_manifest();
  std::string text = handoff::to_json_text(manifest);
  auto back = handoff::parse_template_manifest(text);
  REQUIRE(back);
  CHECK(back->key == manifest.key);
  CHECK(back->state_bytes == manifest.state_bytes);
  CHECK(back->state_crc32 == manifest.state_crc32);
  CHECK(back->ram_bytes == manifest.ram_bytes);
  CHECK(back->ram_crc32 == manifest.ram_crc32);
  CHECK(back->built_at == manifest.built_at);

  CHECK_FALSE(handoff::parse_template_manifest(""));
  CHECK_FALSE(handoff::parse_template_manifest("garbage"));
  CHECK_FALSE(handoff::parse_template_manifest(text.substr(0, text.size() / 2)));  // truncated
  std::string other_version = text;
  other_version.replace(other_version.find("\"version\": 2"), 12, "\"version\": 1");
  CHECK_FALSE(handoff::parse_template_manifest(other_version));
  std::string unknown_field = text;
  unknown_field.insert(unknown_field.find("\"state_bytes\""), "\"extra\": 1, ");
  CHECK_FALSE(handoff::parse_template_manifest(unknown_field));
  std::string missing_field = text;
  missing_field.replace(missing_field.find("\"built_at\""), 10, "\"built_on\"");
  CHECK_FALSE(handoff::parse_template_manifest(missing_field));
  std::string padded = text + std::string(handoff::kTemplateManifestMaxBytes, ' ');
  CHECK_FALSE(handoff::parse_template_manifest(padded));
}

TEST_CASE("a template's directory name follows every field of its key", "[template]") {
  handoff::TemplateKey key = sample_manifest().key;
  std::string name = handoff::template_directory_name(key);
  CHECK(name.size() == 16);
  CHECK(name.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(handoff::template_directory_name(key) == name);
  for (std::string handoff::TemplateKey::*field :
       {&handoff::TemplateKey::boot_id, &handoff::TemplateKey::qemu, &handoff::TemplateKey::firmware,
        &handoff::TemplateKey::kernel, &handoff::TemplateKey::initrd, &handoff::TemplateKey::command,
        &handoff::TemplateKey::host_cpu}) {
    handoff::TemplateKey other = key;
    other.*field += "x";
    CHECK(handoff::template_directory_name(other) != name);
  }
}

TEST_CASE("which VMs start from a template and which boot", "[template]") {
  handoff::Launch launch = test::bundle_kernel_launch();
  CHECK_FALSE(handoff::template_refusal(launch));
  auto refusal = [&](auto change) {
    handoff::Launch changed = launch;
    change(changed);
    return handoff::template_refusal(changed).value_or("");
  };
  CHECK(refusal([](handoff::Launch& l) { l.template_vm = false; }) == "RUNCVM_TEMPLATE=0");
  CHECK(refusal([](handoff::Launch& l) { l.kernel.source = "image"; }) == "the image's own kernel boots cold");
  CHECK_THAT(refusal([](handoff::Launch& l) { l.kernel.initrd.clear(); }),
             ContainsSubstring("without runcvm's initramfs"));
  CHECK(refusal([](handoff::Launch& l) { l.qemu.machine = "microvm"; }) == "RUNCVM_QEMU_MACHINE=microvm boots cold");
  CHECK(refusal([](handoff::Launch& l) { l.qemu.machine = "pc"; }) == "RUNCVM_QEMU_MACHINE=pc boots cold");
  CHECK_THAT(refusal([](handoff::Launch& l) { l.kernel.debug = true; }), ContainsSubstring("RUNCVM_KERNEL_DEBUG"));
  CHECK_THAT(refusal([](handoff::Launch& l) { l.kernel.append = "x=1"; }), ContainsSubstring("RUNCVM_KERNEL_APPEND"));
  CHECK_THAT(refusal([](handoff::Launch& l) { l.qemu.bios_debug = true; }), ContainsSubstring("RUNCVM_BIOS_DEBUG"));
  CHECK_THAT(refusal([](handoff::Launch& l) { l.hugetlb = true; }), ContainsSubstring("RUNCVM_HUGETLB"));
  CHECK_THAT(refusal([](handoff::Launch& l) { l.display_mode = "vnc"; }), ContainsSubstring("display"));
  CHECK_THAT(refusal([](handoff::Launch& l) { l.qemu.usb = true; }), ContainsSubstring("USB"));
  CHECK_THAT(refusal([](handoff::Launch& l) { l.qemu.vnc_display = 1; }), ContainsSubstring("VNC"));
  CHECK(refusal([](handoff::Launch& l) { l.disks.resize(2); }).empty());
  CHECK_THAT(refusal([](handoff::Launch& l) { l.disks.resize(3); }), ContainsSubstring("more than 2 RUNCVM_DISKS"));
  // What the workload does, and the VM's size, are the template's key or the container's own.
  CHECK(refusal([](handoff::Launch& l) {
          l.exec_init = true;
          l.memory_mib = 2048;
          l.cpus = 4;
          l.process.terminal = true;
        }).empty());
}

TEST_CASE("a template and its copies have the same devices; a copy gets the container's after the load",
          "[template][qemu]") {
  container_init::BundleLayout bundle;
  handoff::Launch launch = test::bundle_kernel_launch();
  launch.cpus = 2;
  launch.disks.resize(1);
  container_init::BootFiles files{launch.kernel.vmlinuz, launch.kernel.initrd};
  files.disks = {{5, 6}};
  files.ram_fd = 8;
  std::vector<container_init::Nic> nics = {{.tap_fd = 7, .mac = "02:42:ac:11:00:02", .mtu = 1500}};
  auto build = container_init::qemu_command(launch, bundle, false, files, {}, container_init::VmStart::build_template);
  files.incoming_fd = 9;
  auto restore = container_init::qemu_command(launch, bundle, false, files, nics, container_init::VmStart::restore);
  CHECK(devices(build) == devices(restore));
  std::string built = joined(build), restored = joined(restore);
  for (const std::string& line : {built, restored}) {
    CHECK_THAT(line, ContainsSubstring(" runcvm.template "));
    CHECK_THAT(line, ContainsSubstring("-device vmgenid"));
    CHECK_THAT(
        line,
        ContainsSubstring(
            "-object memory-backend-file,id=mem,size=544M,share=on,mem-path=/proc/self/fd/8 -numa node,memdev=mem "));
    CHECK(line.find("memory-backend-memfd") == std::string::npos);
    CHECK_THAT(line, ContainsSubstring("-chardev null,id=console -serial chardev:console"));
    CHECK_THAT(line, ContainsSubstring("-device pcie-root-port,id=runcvm-nic-slot0,chassis=1,io-reserve=0"));
    CHECK_THAT(line, ContainsSubstring("-device pcie-root-port,id=runcvm-disk-slot1,chassis=6,io-reserve=0"));
    CHECK_THAT(line, ContainsSubstring("-device pcie-root-port,id=runcvm-root-slot,chassis=7,io-reserve=0"));
    CHECK_THAT(line, ContainsSubstring("-device pcie-root-port,id=runcvm-slot1,chassis=9,io-reserve=0"));
    CHECK(line.find("vhost-user-fs") == std::string::npos);
    CHECK(line.find("virtio-net") == std::string::npos);
    CHECK(line.find("virtio-blk") == std::string::npos);
  }
  // The template: nothing of the container's (no root socket, no disk, no tap); the copy: their
  // backends, and the state to load.
  CHECK(built.find("virtiofs.sock") == std::string::npos);
  CHECK(built.find("-drive") == std::string::npos);
  CHECK(built.find("-incoming") == std::string::npos);
  // virtiofsd starts beside QEMU: the root's socket is added with its device, after the load.
  CHECK(restored.find("virtiofs.sock") == std::string::npos);
  CHECK(container_init::root_chardev().dump() ==
        R"({"backend":{"data":{"addr":{"data":{"path":"/.runcvm/helper-sockets/virtiofs.sock"},"type":"unix"},)"
        R"("server":false},"type":"socket"},"id":"fs"})");
  CHECK_THAT(restored, ContainsSubstring("-drive file=/dev/fdset/1,if=none,id=disk0"));
  CHECK_THAT(restored, ContainsSubstring("-incoming defer"));
  CHECK(restored.find("fd=7") == std::string::npos);
  CHECK(container_init::root_device(launch, "runcvm-root-slot") == nlohmann::json{{"driver", "vhost-user-fs-pci"},
                                                                                  {"id", "root-fs"},
                                                                                  {"chardev", "fs"},
                                                                                  {"tag", "runcvm-root"},
                                                                                  {"queue-size", 1024},
                                                                                  {"bus", "runcvm-root-slot"}});
  CHECK(container_init::disk_device(launch, 0, "runcvm-disk-slot0") == nlohmann::json{{"driver", "virtio-blk-pci"},
                                                                                      {"id", "disk-device0"},
                                                                                      {"drive", "disk0"},
                                                                                      {"serial", "runcvm-disk0"},
                                                                                      {"bus", "runcvm-disk-slot0"}});
  // A systemd workload's console reaches its copy: the port is the template's, the output the copy's.
  launch.exec_init = true;
  files.console_fd = 4;
  auto console =
      joined(container_init::qemu_command(launch, bundle, false, files, nics, container_init::VmStart::restore));
  CHECK_THAT(console, ContainsSubstring("-add-fd fd=4,set=1000 -chardev file,id=console,append=on,path=/dev/fdset/1000 "
                                        "-serial chardev:console"));
  files.ram_fd = -1;
  CHECK_THROWS_WITH(container_init::qemu_command(launch, bundle, false, files, nics, container_init::VmStart::restore),
                    "QEMU's command: the template's RAM has no descriptor");
  files.ram_fd = 8;
  files.incoming_fd = -1;
  CHECK_THROWS_WITH(container_init::qemu_command(launch, bundle, false, files, nics, container_init::VmStart::restore),
                    "QEMU's command: the template's state has no descriptor");
}

namespace {

// A template's state of `bytes` in a file, opened as open_template hands it over, with a manifest
// whose CRC-32 is the content's (or not, when `damaged`).
container_init::OpenedTemplate state_of(const std::string& bytes, bool damaged) {
  FILE* file = std::tmpfile();
  REQUIRE(file);
  REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size());
  std::fflush(file);
  UniqueFd fd(::dup(::fileno(file)));
  std::fclose(file);
  ::lseek(fd.get(), 0, SEEK_SET);
  handoff::TemplateManifest manifest = sample_manifest();
  manifest.state_bytes = bytes.size();
  manifest.state_crc32 = static_cast<std::uint32_t>(
      ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
  if (damaged) manifest.state_crc32 ^= 1;
  return {std::move(fd), UniqueFd(), manifest};
}

// Everything that comes out of the pipe, as QEMU would read it.
std::string drain(int fd) {
  std::string out;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<std::size_t>(n));
  return out;
}

}  // namespace

TEST_CASE("a template's state streams to QEMU whole, and a damaged one is caught on the way", "[template]") {
  std::string bytes(3 << 20, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);

  {
    container_init::StatePump pump(state_of(bytes, false));
    UniqueFd read_end(::dup(pump.qemu_end()));
    pump.release_qemu_end();  // as after QEMU was spawned with it
    CHECK(drain(read_end.get()) == bytes);
    CHECK_NOTHROW(pump.finish());
  }
  {
    container_init::StatePump pump(state_of(bytes, true));
    UniqueFd read_end(::dup(pump.qemu_end()));
    pump.release_qemu_end();
    CHECK(drain(read_end.get()).size() == bytes.size());
    CHECK_THROWS_AS(pump.finish(), container_init::DamagedTemplate);
  }
  {  // QEMU gave up reading (it refused the state, or was ended): an error, not a damaged template
    container_init::StatePump pump(state_of(bytes, false));
    UniqueFd read_end(::dup(pump.qemu_end()));
    pump.release_qemu_end();
    char first[4096];
    CHECK(::read(read_end.get(), first, sizeof first) > 0);
    read_end.reset();
    try {
      pump.finish();
      FAIL("a pump whose reader left reported success");
    } catch (const container_init::DamagedTemplate&) {
      FAIL("a pump whose reader left reported a damaged template");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), ContainsSubstring("QEMU stopped reading the template's state"));
    }
  }
  {  // destroyed while nothing reads: it ends, without a hang
    container_init::StatePump pump(state_of(bytes, false));
  }
}

TEST_CASE("a template's RAM is copied page by page, and a damaged page is caught", "[template]") {
  handoff::Launch launch = test::bundle_kernel_launch();
  launch.memory_mib = 64;
  const std::uint64_t size = launch.memory_mib << 20;
  // A sparse "template RAM": a few pages written, one of them all zero, the rest holes.
  FILE* file = std::tmpfile();
  REQUIRE(file);
  UniqueFd fd(::dup(::fileno(file)));
  std::fclose(file);
  REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(size)) == 0);
  std::string page(4096, 'x'), zero(4096, '\0');
  const std::uint64_t offsets[] = {0, 4096 * 7, 4096 * 8, size - 4096};
  for (std::uint64_t offset : offsets) {
    page[0] = static_cast<char>(offset >> 12);
    REQUIRE(::pwrite(fd.get(), page.data(), page.size(), static_cast<off_t>(offset)) == 4096);
  }
  REQUIRE(::pwrite(fd.get(), zero.data(), zero.size(), 4096 * 20) == 4096);  // written, but zero
  // The manifest's CRC-32: each page that is not zero, after its offset (8 bytes, little-endian).
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (std::uint64_t offset : offsets) {
    unsigned char le[8];
    for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(offset >> (8 * i));
    page[0] = static_cast<char>(offset >> 12);
    crc = ::crc32(crc, le, 8);
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(page.data()), 4096);
  }
  handoff::TemplateManifest manifest = sample_manifest();
  manifest.ram_bytes = size;
  manifest.ram_crc32 = static_cast<std::uint32_t>(crc);
  container_init::OpenedTemplate opened{UniqueFd(), std::move(fd), manifest};

  container_init::RamCopy copy(opened, launch);
  copy.finish();
  int ram = copy.fd();
  struct stat st {};
  REQUIRE(::fstat(ram, &st) == 0);
  CHECK(static_cast<std::uint64_t>(st.st_size) == size);
  for (std::uint64_t offset : offsets) {
    std::string got(4096, '\0');
    REQUIRE(::pread(ram, got.data(), got.size(), static_cast<off_t>(offset)) == 4096);
    page[0] = static_cast<char>(offset >> 12);
    CHECK(got == page);
  }
  CHECK(st.st_blocks * 512 <= static_cast<long long>(4 * 4096));  // only the pages that are not zero

  page[100] = 'y';  // one byte of one page changed
  REQUIRE(::pwrite(opened.ram.get(), page.data(), page.size(), 4096 * 8) == 4096);
  container_init::RamCopy damaged(opened, launch);
  CHECK_THROWS_AS(damaged.finish(), container_init::DamagedTemplate);
  launch.memory_mib = 128;  // a VM of another size than the template's
  CHECK_THROWS_WITH(container_init::RamCopy(opened, launch), ContainsSubstring("the template's RAM is"));
}
