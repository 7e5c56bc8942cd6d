#include "mws/buf/buffer_pool.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "mws/buf/byte_buffer.h"

namespace mws::buf {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes pattern(size_t n, uint8_t seed) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 13);
  return out;
}

Bytes contents(ByteBuffer& b) {
  const auto s = b.bytes();
  return Bytes(s.begin(), s.end());
}

TEST(BufferPoolTest, Constants) {
  EXPECT_EQ(sizeof(Block), 24u);
  EXPECT_EQ(BufferPool::capacityOf(0), 256u - 24u);
  EXPECT_EQ(BufferPool::capacityOf(1), 512u - 24u);
  EXPECT_EQ(BufferPool::capacityOf(10), (256u << 10) - 24u);
  EXPECT_EQ(BufferPool::kMaxCapacity, (size_t{1} << 31) - 24u);
  EXPECT_EQ(BufferPool::capacityOf(BufferPool::kNumClasses - 1), BufferPool::kMaxCapacity);
}

TEST(BufferPoolTest, AcquireSizesPowerOfTwoClasses) {
  BufferPool pool(0);  // cache nothing: every acquire is a fresh block
  struct Case {
    size_t request;
    size_t block_bytes;
  };
  const Case cases[] = {
      {0, 256},
      {1, 256},
      {232, 256},
      {233, 512},
      {488, 512},
      {489, 1024},
      {1000, 1024},
      {1001, 2048},
      {4072, 4096},
      {4073, 8192},
      {65536, 131072},
      {(1u << 20) - 24, 1u << 20},
      {(1u << 20) - 23, 2u << 20},
  };
  for (const Case& c : cases) {
    Block* b = pool.acquire(c.request);
    ASSERT_NE(b, nullptr) << c.request;
    EXPECT_GE(b->capacity, c.request);
    EXPECT_EQ(b->capacity + sizeof(Block), c.block_bytes) << c.request;
    EXPECT_TRUE(std::has_single_bit(b->capacity + sizeof(Block)));
    EXPECT_EQ(BufferPool::capacityOf(b->size_class), b->capacity);
    EXPECT_EQ(b->begin, 0u);
    EXPECT_EQ(b->end, 0u);
    EXPECT_EQ(b->size(), 0u);
    EXPECT_EQ(pool.stats().bytes_in_use.get(), c.block_bytes);
    EXPECT_EQ(pool.stats().blocks_in_use.get(), 1u);
    // The whole capacity is writable (ASan checks this).
    b->data()[0] = 1;
    b->data()[b->capacity - 1] = 2;
    pool.release(b);
    EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);
    EXPECT_EQ(pool.stats().bytes_cached.get(), 0u);
  }
}

TEST(BufferPoolTest, ReuseAfterRelease) {
  BufferPool pool;
  Block* a = pool.acquire(100);
  ASSERT_NE(a, nullptr);
  a->begin = 3;
  a->end = 50;
  pool.release(a);
  Block* b = pool.acquire(200);  // same class
  EXPECT_EQ(b, a);
  EXPECT_EQ(b->begin, 0u);  // handed out empty
  EXPECT_EQ(b->end, 0u);
  EXPECT_EQ(b->next_free, nullptr);
  Block* c = pool.acquire(100);  // the cache is empty again: a new block
  EXPECT_NE(c, b);
  Block* big = pool.acquire(5000);  // another class does not take from this one
  EXPECT_NE(big, b);
  EXPECT_NE(big, c);
  pool.release(big);
  pool.release(c);
  pool.release(b);
  // LIFO per class.
  EXPECT_EQ(pool.acquire(1), b);
  EXPECT_EQ(pool.acquire(1), c);
  EXPECT_EQ(pool.acquire(5000), big);
  pool.release(b);
  pool.release(c);
  pool.release(big);
}

TEST(BufferPoolTest, StatsAreExact) {
  BufferPool pool;
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().bytes_cached.get(), 0u);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().acquires_total.get(), 0u);
  Block* a = pool.acquire(10);    // 256
  Block* b = pool.acquire(1000);  // 1024
  Block* c = pool.acquire(3000);  // 4096
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 256u + 1024u + 4096u);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 3u);
  EXPECT_EQ(pool.stats().acquires_total.get(), 3u);
  EXPECT_EQ(pool.stats().bytes_cached.get(), 0u);
  pool.release(b);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 256u + 4096u);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 2u);
  EXPECT_EQ(pool.stats().bytes_cached.get(), 1024u);
  b = pool.acquire(900);  // from the cache
  EXPECT_EQ(pool.stats().bytes_cached.get(), 0u);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 256u + 1024u + 4096u);
  EXPECT_EQ(pool.stats().acquires_total.get(), 4u);
  pool.release(a);
  pool.release(b);
  pool.release(c);
  pool.release(nullptr);  // ignored
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().bytes_cached.get(), 256u + 1024u + 4096u);
  EXPECT_EQ(pool.stats().acquires_total.get(), 4u);
}

TEST(BufferPoolTest, CacheCapRespected) {
  BufferPool pool(600);  // room for two 256-byte blocks
  std::vector<Block*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(pool.acquire(1));
  for (Block* b : blocks) {
    pool.release(b);
    EXPECT_LE(pool.stats().bytes_cached.get(), 600u);
  }
  EXPECT_EQ(pool.stats().bytes_cached.get(), 512u);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);
  // The two cached ones come back (LIFO), then fresh ones.
  EXPECT_EQ(pool.acquire(1), blocks[1]);
  EXPECT_EQ(pool.acquire(1), blocks[0]);
  EXPECT_EQ(pool.stats().bytes_cached.get(), 0u);
  pool.release(blocks[0]);
  pool.release(blocks[1]);
  // A block bigger than the whole cap is never cached.
  Block* big = pool.acquire(1000);
  pool.release(big);
  EXPECT_EQ(pool.stats().bytes_cached.get(), 512u);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
}

TEST(BufferPoolTest, ZeroCapCachesNothing) {
  BufferPool pool(0);
  Block* a = pool.acquire(1);
  pool.release(a);
  EXPECT_EQ(pool.stats().bytes_cached.get(), 0u);
  EXPECT_EQ(pool.stats().acquires_total.get(), 1u);
}

TEST(BufferPoolTest, AboveMaxCapacityIsNull) {
  BufferPool pool;
  EXPECT_EQ(pool.acquire(BufferPool::kMaxCapacity + 1), nullptr);
  EXPECT_EQ(pool.acquire(SIZE_MAX), nullptr);
  EXPECT_EQ(pool.acquire(SIZE_MAX - 10), nullptr);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().acquires_total.get(), 0u);
}

// ---------------------------------------------------------------------------
// ByteBuffer.

TEST(ByteBufferTest, EmptyHoldsNothing) {
  BufferPool pool;
  ByteBuffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.holdsBlock());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.bytes().empty());
  EXPECT_EQ(b.append(pool, {}), Errc::kOk);  // nothing to append: no block
  EXPECT_FALSE(b.holdsBlock());
  EXPECT_EQ(pool.stats().acquires_total.get(), 0u);
  b.consume(pool, 0);
  b.truncate(pool, 0);
  b.clear(pool);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
}

TEST(ByteBufferTest, AppendConsumeTruncate) {
  BufferPool pool;
  ByteBuffer b;
  const Bytes x = pattern(10, 1), y = pattern(20, 50);
  ASSERT_EQ(b.append(pool, x), Errc::kOk);
  EXPECT_TRUE(b.holdsBlock());
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(contents(b), x);
  ASSERT_EQ(b.append(pool, y, x), Errc::kOk);  // two spans at once
  Bytes expected = x;
  expected.insert(expected.end(), y.begin(), y.end());
  expected.insert(expected.end(), x.begin(), x.end());
  EXPECT_EQ(contents(b), expected);
  EXPECT_EQ(b.size(), 40u);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 1u);

  b.consume(pool, 5);
  expected.erase(expected.begin(), expected.begin() + 5);
  EXPECT_EQ(contents(b), expected);
  b.truncate(pool, 7);
  expected.resize(expected.size() - 7);
  EXPECT_EQ(contents(b), expected);
  EXPECT_EQ(b.size(), 28u);

  // Emptied from the back: the block goes back.
  b.truncate(pool, 28);
  EXPECT_FALSE(b.holdsBlock());
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);

  // Emptied from the front too.
  ASSERT_EQ(b.append(pool, y), Errc::kOk);
  b.consume(pool, 19);
  EXPECT_EQ(contents(b), Bytes{y.back()});
  b.consume(pool, 1);
  EXPECT_FALSE(b.holdsBlock());
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);
}

TEST(ByteBufferTest, GrowthPreservesContent) {
  BufferPool pool;
  ByteBuffer b;
  Bytes expected;
  size_t last_capacity_class_changes = 0;
  const uint8_t* last_data = nullptr;
  for (int i = 0; i < 200; ++i) {
    const Bytes piece = pattern(static_cast<size_t>(37 + i), static_cast<uint8_t>(i));
    ASSERT_EQ(b.append(pool, piece), Errc::kOk);
    expected.insert(expected.end(), piece.begin(), piece.end());
    if (b.bytes().data() != last_data) ++last_capacity_class_changes;
    last_data = b.bytes().data();
    ASSERT_EQ(contents(b), expected) << i;
    ASSERT_EQ(pool.stats().blocks_in_use.get(), 1u);  // the old block went back on growth
  }
  // About 27 KiB in 200 appends: geometric growth means only a handful of moves.
  EXPECT_LE(last_capacity_class_changes, 10u);
  EXPECT_GE(last_capacity_class_changes, 5u);
  b.clear(pool);
  EXPECT_FALSE(b.holdsBlock());
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);
}

TEST(ByteBufferTest, ConsumeThenAppendCompacts) {
  BufferPool pool;
  ByteBuffer b;
  const Bytes a = pattern(200, 3);  // fits a 256-byte block (232 bytes of data)
  ASSERT_EQ(b.append(pool, a), Errc::kOk);
  uint8_t* const start = b.bytes().data();
  b.consume(pool, 150);
  EXPECT_EQ(b.bytes().data(), start + 150);
  const Bytes more = pattern(100, 77);  // 50 live + 100 > 232 - 200 left at the end, < 232
  ASSERT_EQ(b.append(pool, more), Errc::kOk);
  EXPECT_EQ(b.bytes().data(), start);  // moved to the front of the same block
  Bytes expected(a.begin() + 150, a.end());
  expected.insert(expected.end(), more.begin(), more.end());
  EXPECT_EQ(contents(b), expected);
  EXPECT_EQ(pool.stats().acquires_total.get(), 1u);  // no new block
  b.clear(pool);
}

TEST(ByteBufferTest, GrowAfterConsumeKeepsOnlyLiveBytes) {
  BufferPool pool;
  ByteBuffer b;
  const Bytes a = pattern(200, 9);
  ASSERT_EQ(b.append(pool, a), Errc::kOk);
  b.consume(pool, 100);
  const Bytes more = pattern(300, 1);  // 100 live + 300 needs a bigger block
  ASSERT_EQ(b.append(pool, more), Errc::kOk);
  Bytes expected(a.begin() + 100, a.end());
  expected.insert(expected.end(), more.begin(), more.end());
  EXPECT_EQ(contents(b), expected);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 1u);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 512u);
  b.clear(pool);
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 0u);
}

TEST(ByteBufferTest, Assign) {
  BufferPool pool;
  ByteBuffer b;
  ASSERT_EQ(b.append(pool, pattern(10, 0)), Errc::kOk);
  ASSERT_EQ(b.assign(pool, 1000), Errc::kOk);
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_TRUE(b.holdsBlock());
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 1u);  // the old block was given back
  EXPECT_EQ(pool.stats().bytes_in_use.get(), 1024u);
  // The storage is usable.
  std::span<uint8_t> s = b.bytes();
  std::iota(s.begin(), s.end(), uint8_t{0});
  EXPECT_EQ(b.bytes()[999], static_cast<uint8_t>(999));
  b.clear(pool);
  EXPECT_EQ(pool.stats().blocks_in_use.get(), 0u);
  EXPECT_EQ(b.assign(pool, BufferPool::kMaxCapacity + 1), Errc::kNoMemory);
  EXPECT_FALSE(b.holdsBlock());
}

}  // namespace
}  // namespace mws::buf
