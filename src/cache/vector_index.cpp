// Flat-then-HNSW namespace index (see vector_index.h). hnswlib throws on
// capacity and unknown labels; capacity is grown before every insert and only
// known ids are deleted, so nothing here throws on the request path.
#include "cache/vector_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <unordered_map>

namespace arbitra::cache {

struct VectorIndex::Graph {
  explicit Graph(size_t dims, const IndexParams& p, size_t capacity)
      : space(dims), index(&space, capacity, p.m, p.efConstruction, 100) {
    index.setEf(p.efSearch);
  }
  hnswlib::InnerProductSpace space;
  hnswlib::HierarchicalNSW<float> index;
  std::unordered_map<uint64_t, bool> ids;  // id -> live
  size_t deleted = 0;
};

VectorIndex::VectorIndex(size_t dims, IndexParams params) : dims_(dims), params_(params) {}
VectorIndex::~VectorIndex() = default;

size_t VectorIndex::bytesPerVector() const {
  if (!hnsw_) return sizeof(uint64_t) + dims_ * sizeof(float);
  // level-0 data (vector, links, label) + upper levels (~1/M of nodes) + id map
  return hnsw_->index.size_data_per_element_ + hnsw_->index.size_links_per_element_ / params_.m + 48;
}

void VectorIndex::add(uint64_t id, const Vector& v) {
  if (v.size() != dims_) return;
  if (!hnsw_) {
    flatIds_.push_back(id);
    flat_.insert(flat_.end(), v.begin(), v.end());
    ++live_;
    if (flatIds_.size() > params_.flatLimit) toGraph();
    return;
  }
  auto& g = *hnsw_;
  if (g.ids.count(id)) return;
  if (g.index.cur_element_count >= g.index.max_elements_) g.index.resizeIndex(g.index.max_elements_ * 2);
  g.index.addPoint(v.data(), id);
  g.ids[id] = true;
  ++live_;
}

void VectorIndex::remove(uint64_t id) {
  if (!hnsw_) {
    auto it = std::find(flatIds_.begin(), flatIds_.end(), id);
    if (it == flatIds_.end()) return;
    size_t at = static_cast<size_t>(it - flatIds_.begin());
    size_t last = flatIds_.size() - 1;
    flatIds_[at] = flatIds_[last];
    std::copy_n(flat_.begin() + last * dims_, dims_, flat_.begin() + at * dims_);
    flatIds_.pop_back();
    flat_.resize(last * dims_);
    --live_;
    return;
  }
  auto& g = *hnsw_;
  auto it = g.ids.find(id);
  if (it == g.ids.end() || !it->second) return;
  g.index.markDelete(id);
  it->second = false;
  ++g.deleted;
  --live_;
  if (g.deleted > live_ + 64) rebuild();
}

bool VectorIndex::get(uint64_t id, Vector& out) const {
  if (!hnsw_) {
    auto it = std::find(flatIds_.begin(), flatIds_.end(), id);
    if (it == flatIds_.end()) return false;
    size_t at = static_cast<size_t>(it - flatIds_.begin());
    out.assign(flat_.begin() + at * dims_, flat_.begin() + (at + 1) * dims_);
    return true;
  }
  auto it = hnsw_->ids.find(id);
  if (it == hnsw_->ids.end() || !it->second) return false;
  out = hnsw_->index.getDataByLabel<float>(id);  // live: never throws
  return true;
}

void VectorIndex::toGraph() {
  hnsw_ = std::make_unique<Graph>(dims_, params_, std::max<size_t>(params_.flatLimit * 4, 1024));
  for (size_t i = 0; i < flatIds_.size(); ++i) {
    hnsw_->index.addPoint(&flat_[i * dims_], flatIds_[i]);
    hnsw_->ids[flatIds_[i]] = true;
  }
  flatIds_.clear();
  flatIds_.shrink_to_fit();
  flat_.clear();
  flat_.shrink_to_fit();
}

void VectorIndex::rebuild() {
  auto old = std::move(hnsw_);
  std::vector<uint64_t> ids;
  for (const auto& [id, live] : old->ids) {
    if (live) ids.push_back(id);
  }
  hnsw_ = std::make_unique<Graph>(dims_, params_, std::max<size_t>(ids.size() * 2, 1024));
  for (uint64_t id : ids) {
    auto data = old->index.getDataByLabel<float>(id);
    hnsw_->index.addPoint(data.data(), id);
    hnsw_->ids[id] = true;
  }
  live_ = ids.size();
}

std::vector<std::pair<uint64_t, float>> VectorIndex::search(const Vector& q, size_t k) const {
  std::vector<std::pair<uint64_t, float>> out;
  if (q.size() != dims_ || live_ == 0 || k == 0) return out;
  if (!hnsw_) {
    for (size_t i = 0; i < flatIds_.size(); ++i) {
      const float* v = &flat_[i * dims_];
      float dot = 0;
      for (size_t d = 0; d < dims_; ++d) dot += v[d] * q[d];
      out.emplace_back(flatIds_[i], dot);
    }
    size_t keep = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + keep, out.end(),
                      [](const auto& a, const auto& b) { return a.second > b.second; });
    out.resize(keep);
    return out;
  }
  auto found = hnsw_->index.searchKnn(q.data(), k);
  while (!found.empty()) {
    out.emplace_back(found.top().second, 1.0f - found.top().first);  // distance = 1 - dot
    found.pop();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace arbitra::cache
