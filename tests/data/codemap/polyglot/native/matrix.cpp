#include <vector>

namespace linalg {

template <typename T>
class Matrix {
public:
    Matrix(int rows, int cols) : rows_(rows), cols_(cols), data_(rows * cols) {}

    T at(int r, int c) const { return data_[r * cols_ + c]; }

private:
    int rows_;
    int cols_;
    std::vector<T> data_;
};

double trace(const Matrix<double>& m, int n) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += m.at(i, i);
    return sum;
}

}  // namespace linalg
